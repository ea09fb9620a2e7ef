/**
 * Coffer's versions: its own release, and the one it reports to Vault clients.
 *
 * Clients gate features on the `version` of sys/seal-status and sys/health (terraform-provider-vault
 * parses it with go-version), so that field must be a Vault release whose API Coffer speaks, not
 * Coffer's own 0.x number, which they would take for Vault 0.1. Coffer's release rides along as
 * semver build metadata, which version comparisons ignore.
 */

/** Coffer's own release (package.json): `coffer version`, logs. */
export const COFFER_VERSION = '0.1.0';

/** The Vault release whose HTTP API Coffer answers as. */
export const VAULT_API_VERSION = '1.17.0';

/** What seal-status and health report: `1.17.0+coffer.0.1.0`. */
export const REPORTED_VERSION = `${VAULT_API_VERSION}+coffer.${COFFER_VERSION}`;

/** The version Coffer reports in seal-status and health (Vault clients read the field). */
export const COFFER_VERSION = '0.1.0';

/**
 * The one placeholder grammar of every database plugin, in statement templates and connection
 * URLs alike: `{{name}}` (= `{{username}}`), `{{password}}`, `{{expiration}}`, with optional
 * spaces inside the braces (`{{ name }}`, as Vault's Go templates allow) and names
 * case-sensitive (`{{Name}}` is not a placeholder, as in Vault).
 *
 * Owns: filling placeholders, and refusing creation statements that would make a user that
 * revocation cannot find: statements that never name the new user, or that hold a `{{…}}` this
 * grammar does not fill (it would reach the database as literal text: MySQL would create a user
 * named `{{ Name }}` whose password is the literal text of its placeholder).
 * Must never: scan a filled value again for placeholders (one pass), or put text taken from a
 * rendered statement into an error (it may hold the new password).
 */
import { badRequest } from '../../core/errors.js';

export type PlaceholderName = 'name' | 'username' | 'password' | 'expiration';

const PLACEHOLDER = /\{\{\s*(name|username|password|expiration)\s*\}\}/g;
const EXACT_PLACEHOLDER = new RegExp(`^${PLACEHOLDER.source}$`);
const NAME_PLACEHOLDER = /\{\{\s*(?:name|username)\s*\}\}/;
/** Anything in double braces, placeholder or not. */
const BRACED = /\{\{[\s\S]*?\}\}/;
/** Candidates to quote in an error: double braces with no brace inside. */
const BRACED_SIMPLE = /\{\{[^{}]*\}\}/g;
const GRAMMAR = '{{name}}, {{username}}, {{password}} and {{expiration}} (lower case; spaces inside the braces are allowed)';

/**
 * Fills every placeholder that `values` has a value for, in one pass; one without a value is
 * left as written (renew and revoke have no password, say).
 */
export function fillPlaceholders(template: string, values: Readonly<Partial<Record<PlaceholderName, string>>>): string {
  return template.replace(PLACEHOLDER, (whole, key: PlaceholderName) => values[key] ?? whole);
}

/** The first `{{…}}` in a template that is not a placeholder of this grammar, if any. */
export function unknownPlaceholder(template: string): string | undefined {
  for (const match of template.matchAll(BRACED_SIMPLE)) {
    if (!EXACT_PLACEHOLDER.test(match[0])) return match[0];
  }
  // Nested or broken braces ("{{ {{name}} }}"): what is left once placeholders are gone.
  const rest = template.replace(PLACEHOLDER, '');
  return BRACED.exec(rest)?.[0];
}

/** Refuses templates of `field` with a `{{…}}` that is not a placeholder. */
export function checkPlaceholders(templates: readonly string[], field: string): void {
  for (const template of templates) {
    const unknown = unknownPlaceholder(template);
    if (unknown !== undefined) {
      throw badRequest(`${field} contain "${unknown}", which is not a placeholder; the placeholders are ${GRAMMAR}`);
    }
  }
}

/**
 * Refuses creation statements that do not name the new user or that hold an unknown
 * placeholder: either would create a user that revocation, which drops the generated name,
 * never removes.
 */
export function checkCreationStatements(templates: readonly string[]): void {
  checkPlaceholders(templates, 'creation_statements');
  if (!templates.some((t) => NAME_PLACEHOLDER.test(t))) {
    throw badRequest('creation_statements must name the new user with {{name}} or {{username}}, or revocation could never remove the user they create');
  }
}

const PASSWORD_PLACEHOLDER = /\{\{\s*password\s*\}\}/;

/**
 * Refuses rotation statements that never set the new password or that hold an unknown
 * placeholder: a rotation would then "complete", and readers would get a password the database
 * never took, while the old one kept working.
 */
/** Whether a plugin runs rotation statements at all: Redis (and Valkey) set passwords with ACL SETUSER and ignore them. */
export function usesRotationStatements(pluginName: string): boolean {
  return pluginName !== 'redis-database-plugin' && pluginName !== 'valkey-database-plugin';
}

export function checkRotationStatements(templates: readonly string[], field = 'rotation_statements'): void {
  checkPlaceholders(templates, field);
  if (!templates.some((t) => PASSWORD_PLACEHOLDER.test(t))) {
    throw badRequest(`${field} must set the new password with {{password}}, or a rotation would change nothing`);
  }
}

/**
 * The last check before rendered creation statements run: nothing in double braces is left.
 * The message quotes nothing, since a rendered statement holds the password.
 */
export function refuseUnfilled(rendered: readonly string[]): void {
  if (rendered.some((s) => BRACED.test(s))) {
    throw badRequest(`creation_statements still hold text in double braces after filling the placeholders; the placeholders are ${GRAMMAR}`);
  }
}

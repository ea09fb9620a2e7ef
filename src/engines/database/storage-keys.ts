/**
 * The storage layout of a database mount, relative to the mount's own (barrier-encrypted) view.
 * Every key the engine reads or writes is built here and nowhere else.
 *
 *   config/<name>   one connection: plugin, URL template, admin username and password, limits
 *   roles/<name>    one dynamic role: db_name, statement templates, TTLs
 *
 * Must never: accept a name that has not passed `validName` (a '/' would reach another folder).
 */

export const CONFIG_FOLDER = 'config/';
export const ROLE_FOLDER = 'roles/';

export const configKey = (name: string): string => `${CONFIG_FOLDER}${name}`;
export const roleKey = (name: string): string => `${ROLE_FOLDER}${name}`;

/** Vault's GenericNameRegex: word characters, with '-' and '.' allowed inside. */
export const NAME_PATTERN = '\\w(?:[\\w.-]*\\w)?';

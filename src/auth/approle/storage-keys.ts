/**
 * The storage layout of an AppRole mount, relative to its own storage view. Every key the
 * method reads or writes is built here and nowhere else.
 *
 *   salt                                   per-mount HMAC salt (shared/salt.ts)
 *   role/<name>                            a role, with its role_id and an internal uuid
 *   role-id/<hmac(role_id)>                index: role_id → role name
 *   secret-id/<role uuid>/<hmac(secret)>   one secret ID: uses left, expiry, bindings
 *   accessor/<role uuid>/<accessor>        index: accessor → HMAC of its secret ID
 *
 * Secret IDs and accessors hang under the role's internal uuid, not its name, so a role that is
 * deleted and re-created under the same name never inherits old secret IDs, and an accessor can
 * only ever be found through the role it belongs to (CVE-2023-24999).
 * Must never: hold a secret ID or role ID in a key in clear.
 */

export const ROLE_FOLDER = 'role/';
export const roleKey = (name: string): string => `${ROLE_FOLDER}${name}`;
export const roleIdKey = (roleIdHmac: string): string => `role-id/${roleIdHmac}`;
export const secretIdFolder = (roleUuid: string): string => `secret-id/${roleUuid}/`;
export const secretIdKey = (roleUuid: string, secretIdHmac: string): string => `${secretIdFolder(roleUuid)}${secretIdHmac}`;
export const accessorFolder = (roleUuid: string): string => `accessor/${roleUuid}/`;
export const accessorKey = (roleUuid: string, accessor: string): string => `${accessorFolder(roleUuid)}${accessor}`;

/** Accessors are server-made UUIDs; anything else can never name a stored accessor. */
export const ACCESSOR_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

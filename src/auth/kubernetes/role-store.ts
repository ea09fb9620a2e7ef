/**
 * Kubernetes roles (`role/<name>`): which service accounts, in which namespaces, with which
 * audience, get which token.
 *
 * Owns: Vault's rules that both bindings are required and cannot both be "*".
 * Must never: store a binding list that is empty (that would match nothing, or be read as "any").
 */
import { badRequest } from '../../core/errors.js';
import type { Storage } from '../../core/storage/storage.js';
import { has, parseString, parseStringList } from '../shared/input.js';
import { createRoleStore, type RoleStore } from '../shared/role-paths.js';
import { parseTokenSettings, TOKEN_FIELDS, tokenSettingsView, type TokenSettings } from '../shared/token-fields.js';

export interface KubernetesRole {
  name: string;
  /** Names or globs ("*" = any). */
  boundServiceAccountNames: string[];
  boundServiceAccountNamespaces: string[];
  /** '' = the token's aud is not checked. */
  audience: string;
  token: TokenSettings;
}

/** Every field mergeRole reads. */
export const ROLE_FIELDS: ReadonlySet<string> = new Set(['bound_service_account_names', 'bound_service_account_namespaces', 'audience', ...TOKEN_FIELDS]);

export function mergeRole(name: string, data: Readonly<Record<string, unknown>>, existing: KubernetesRole | undefined): KubernetesRole {
  const role: KubernetesRole = existing
    ? { ...existing }
    : { name, boundServiceAccountNames: [], boundServiceAccountNamespaces: [], audience: '', token: parseTokenSettings({}) };
  if (has(data, 'bound_service_account_names')) role.boundServiceAccountNames = parseStringList(data['bound_service_account_names'], 'bound_service_account_names');
  if (has(data, 'bound_service_account_namespaces')) role.boundServiceAccountNamespaces = parseStringList(data['bound_service_account_namespaces'], 'bound_service_account_namespaces');
  if (has(data, 'audience')) role.audience = parseString(data['audience'], 'audience').trim();
  role.token = parseTokenSettings(data, role.token);
  if (role.boundServiceAccountNames.length === 0) throw badRequest('"bound_service_account_names" can not be empty');
  if (role.boundServiceAccountNamespaces.length === 0) throw badRequest('"bound_service_account_namespaces" can not be empty');
  const any = (list: string[]): boolean => list.length === 1 && list[0] === '*';
  if (any(role.boundServiceAccountNames) && any(role.boundServiceAccountNamespaces)) {
    throw badRequest('service_account_names and service_account_namespaces can not both be "*"');
  }
  return role;
}

export function roleView(role: KubernetesRole): Record<string, unknown> {
  return {
    bound_service_account_names: [...role.boundServiceAccountNames],
    bound_service_account_namespaces: [...role.boundServiceAccountNamespaces],
    audience: role.audience,
    ...tokenSettingsView(role.token),
  };
}

export type KubernetesRoleStore = RoleStore<KubernetesRole>;

export const createKubernetesRoleStore = (storage: Storage): KubernetesRoleStore => createRoleStore<KubernetesRole>(storage);

/**
 * The login methods the SDK can use, described as data: which path to POST and with what body.
 * A method keeps what it needs to log in again (a secret id, a JWT file's path), so the token
 * manager can re-authenticate the same way when a token reaches its max TTL.
 *
 * Owns: validating login options and reading credential files at login time (a Kubernetes
 * projected token or a CI's OIDC token file is replaced on disk while the process runs).
 * Must never: put a credential in an error message; every credential it sends is returned in
 * `secrets` so the transport can scrub it.
 */
import { readFile } from 'node:fs/promises';
import { CofferConfigError } from './errors.js';

export type LoginKind = 'approle' | 'jwt' | 'kubernetes' | 'userpass';

export interface LoginRequest {
  path: string;
  body: Record<string, unknown>;
  /** The credentials in `body`, for redaction. */
  secrets: string[];
}

export interface LoginMethod {
  readonly kind: LoginKind;
  /** Whether the token manager may log in again with it when the token cannot be renewed. */
  readonly canRelogin: boolean;
  request(): Promise<LoginRequest>;
}

interface Common {
  /** The auth mount; defaults to the method's name. */
  mount?: string;
  /** Log in again with the same credentials when the token reaches its max TTL (default true). */
  relogin?: boolean;
}

export interface AppRoleLoginOptions extends Common {
  roleId: string;
  /** Omitted for roles with bind_secret_id=false. */
  secretId?: string;
}

/** A JWT, or a function returning a fresh one (called at every login). */
export type JwtSource = string | (() => string | Promise<string>);

export interface JwtLoginOptions extends Common {
  /** The role; the mount's default_role when omitted. */
  role?: string;
  jwt?: JwtSource;
  /** A file holding the JWT, read at every login. */
  jwtFile?: string;
}

export interface KubernetesLoginOptions extends Common {
  role: string;
  jwt?: JwtSource;
  /** Default: the pod's service-account token file. */
  jwtFile?: string;
}

export interface UserpassLoginOptions extends Common {
  username: string;
  password: string;
}

export const KUBERNETES_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function mountOf(mount: string | undefined, fallback: string): string {
  const m = (mount ?? fallback).replace(/^\/+/, '').replace(/\/+$/, '').replace(/^auth\//, '');
  if (m === '' || m.includes('..')) throw new CofferConfigError('invalid auth mount');
  return m;
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new CofferConfigError(`${name} is required and must be a non-empty string`);
  return value;
}

async function readCredentialFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CofferConfigError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  const value = text.trim();
  if (value === '') throw new CofferConfigError(`the ${what} file ${path} is empty`);
  return value;
}

async function resolveJwt(jwt: JwtSource | undefined, jwtFile: string | undefined): Promise<string> {
  if (jwt !== undefined) {
    const value = typeof jwt === 'function' ? await jwt() : jwt;
    return requireString(value, 'jwt').trim();
  }
  return readCredentialFile(jwtFile as string, 'JWT');
}

export function appRoleLogin(options: AppRoleLoginOptions): LoginMethod {
  const roleId = requireString(options.roleId, 'roleId');
  if (options.secretId !== undefined) requireString(options.secretId, 'secretId');
  const mount = mountOf(options.mount, 'approle');
  return {
    kind: 'approle',
    canRelogin: options.relogin ?? true,
    async request() {
      const body: Record<string, unknown> = { role_id: roleId };
      if (options.secretId !== undefined) body['secret_id'] = options.secretId;
      return { path: `auth/${mount}/login`, body, secrets: options.secretId === undefined ? [] : [options.secretId] };
    },
  };
}

export function jwtLogin(options: JwtLoginOptions): LoginMethod {
  if (options.jwt === undefined && options.jwtFile === undefined) throw new CofferConfigError('loginJwt needs jwt or jwtFile');
  if (options.role !== undefined) requireString(options.role, 'role');
  const mount = mountOf(options.mount, 'jwt');
  return {
    kind: 'jwt',
    canRelogin: options.relogin ?? true,
    async request() {
      const jwt = await resolveJwt(options.jwt, options.jwtFile);
      return { path: `auth/${mount}/login`, body: { jwt, ...(options.role === undefined ? {} : { role: options.role }) }, secrets: [jwt] };
    },
  };
}

export function kubernetesLogin(options: KubernetesLoginOptions): LoginMethod {
  const role = requireString(options.role, 'role');
  const mount = mountOf(options.mount, 'kubernetes');
  const file = options.jwtFile ?? KUBERNETES_TOKEN_FILE;
  return {
    kind: 'kubernetes',
    canRelogin: options.relogin ?? true,
    async request() {
      const jwt = await resolveJwt(options.jwt, file);
      return { path: `auth/${mount}/login`, body: { role, jwt }, secrets: [jwt] };
    },
  };
}

export function userpassLogin(options: UserpassLoginOptions): LoginMethod {
  const username = requireString(options.username, 'username');
  if (username.includes('/')) throw new CofferConfigError('username must not contain "/"');
  const password = requireString(options.password, 'password');
  const mount = mountOf(options.mount, 'userpass');
  return {
    kind: 'userpass',
    canRelogin: options.relogin ?? true,
    async request() {
      return { path: `auth/${mount}/login/${username}`, body: { password }, secrets: [password] };
    },
  };
}

/**
 * Auto-auth: how the agent gets its token, with the platform's identity rather than a token
 * handed to it: an AppRole role id and secret id from files, a JWT or Kubernetes service-account
 * token from a file (read again at every login, since the platform replaces it on disk), or, for
 * setups that deliver a token some other way, a token file.
 *
 * The SDK does the login and keeps the token alive (renewal, re-login at the max TTL); this
 * module only gathers the credentials (token-sink.ts writes the token out).
 *
 * Owns: reading the credential files, removing the secret id file after reading it (as Vault
 * Agent does by default), unwrapping a wrapped secret id, and the secret id kept in memory.
 * Must never: put a credential (role id, secret id, JWT, token) into a message or a log line.
 */
import { readFile, unlink } from 'node:fs/promises';
import type { Coffer } from '../sdk/coffer.js';
import type { AuthInfo } from '../sdk/token-manager.js';
import type { AutoAuthConfig } from './config.js';

export interface AutoAuth {
  /** Logs in once; rejects with a message that holds no credential. */
  login(): Promise<AuthInfo>;
}

/** Reading a credential file failed; the message names the file, never its content. */
export class CredentialFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialFileError';
  }
}

async function readCredential(path: string, what: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialFileError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  const value = text.trim();
  if (value === '') throw new CredentialFileError(`the ${what} file ${path} is empty`);
  return value;
}

async function required(path: string, what: string): Promise<string> {
  const value = await readCredential(path, what);
  if (value === undefined) throw new CredentialFileError(`the ${what} file ${path} does not exist`);
  return value;
}

export function createAutoAuth(config: AutoAuthConfig, coffer: Coffer): AutoAuth {
  /** The last secret id read, kept for re-logins after its file was removed. */
  let cachedSecretId: string | undefined;
  /** What the secret id file held when `cachedSecretId` came from it (a wrapping token, or the id). */
  let lastFileContent: string | undefined;
  const mount = config.mount === undefined ? {} : { mount: config.mount };

  /**
   * The secret id inside a wrapping token, as Vault Agent takes it: the token must have been made
   * by the configured path (so a token wrapping something else, or made by whoever intercepted
   * the real one and wrapped their own secret id, is refused), and it unwraps once.
   */
  const unwrapSecretId = async (wrappingToken: string, expectedPath: string): Promise<string> => {
    const file = config.secretIdFile as string;
    const { creation_path: madeBy } = await coffer.lookupWrapping(wrappingToken);
    const bare = (path: string): string => path.replace(/^\/+|\/+$/g, '');
    if (bare(madeBy) !== bare(expectedPath)) {
      throw new CredentialFileError(`the wrapping token in ${file} was made by ${madeBy}, not ${expectedPath}; refusing it`);
    }
    const secretId = (await coffer.unwrap(wrappingToken)).data?.['secret_id'];
    if (typeof secretId !== 'string' || secretId === '') throw new CredentialFileError(`the wrapping token in ${file} holds no secret id`);
    return secretId;
  };

  const appRole = async (): Promise<AuthInfo> => {
    const roleId = await required(config.roleIdFile as string, 'role id');
    const fromFile = await readCredential(config.secretIdFile as string, 'secret id');
    // A kept file read again holds the wrapping token already unwrapped: it would not unwrap twice.
    if (fromFile !== undefined && fromFile !== lastFileContent) {
      const wrappingPath = config.secretIdResponseWrappingPath;
      // Unwrapped before the file goes: a failed unwrap (the server unreachable) can be retried.
      cachedSecretId = wrappingPath === undefined ? fromFile : await unwrapSecretId(fromFile, wrappingPath);
      lastFileContent = fromFile;
      if (config.removeSecretIdFileAfterReading) await unlink(config.secretIdFile as string).catch(() => undefined);
    }
    if (cachedSecretId === undefined) {
      throw new CredentialFileError(`the secret id file ${config.secretIdFile} does not exist and no secret id was read before`);
    }
    return coffer.loginAppRole({ roleId, secretId: cachedSecretId, ...mount });
  };

  return {
    login() {
      switch (config.method) {
        case 'approle':
          return appRole();
        case 'jwt':
          return coffer.loginJwt({ jwtFile: config.jwtFile as string, ...(config.role === undefined ? {} : { role: config.role }), ...mount });
        case 'kubernetes':
          return coffer.loginKubernetes({ role: config.role as string, ...(config.jwtFile === undefined ? {} : { jwtFile: config.jwtFile }), ...mount });
        case 'token_file':
          return (async () => {
            coffer.setToken(await required(config.tokenFile as string, 'token'));
            // Looks the token up (so a bad one fails here) and renews it from now on.
            return coffer.renewTokenInBackground();
          })();
      }
    },
  };
}

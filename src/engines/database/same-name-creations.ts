/**
 * One user creation per plugin and username at a time, in this process.
 *
 * The MySQL and Redis plugins check that a name is free and then create it, with the lease's
 * write awaited in between (NewUserRequest.commitAfter), so two requests rendering the same name
 * (a username_template without a random part) could both pass the check: in Redis the second
 * ACL SETUSER would merge its rules into the first user, and in MySQL the loser's cleanup would
 * drop the winner's account. Serialised, the second finds the name taken and is refused.
 * (PostgreSQL needs none of this: its CREATE ROLE fails on a taken name inside the transaction.)
 */
import { createKeyedMutex } from '../../core/keyed-mutex.js';

const creations = createKeyedMutex();

export function oneCreationPerName<T>(plugin: string, username: string, create: () => Promise<T>): Promise<T> {
  return creations.run(`${plugin}\u0000${username}`, create);
}

/**
 * The database drivers, loaded the first time a connection is configured rather than when the
 * server starts: importing pg, mysql2 and ioredis takes about a quarter of a second of a
 * server's start-up on a 2-core machine (measured here: ~75, ~95 and ~90 ms each), and a
 * server without database mounts, or one restarting to serve KV reads, needs none of them.
 *
 * Owns: nothing but the one cached import of each driver.
 */
let pg: Promise<typeof import('pg').default> | undefined;
let mysql: Promise<typeof import('mysql2/promise')> | undefined;
let redis: Promise<typeof import('ioredis').Redis> | undefined;

export const loadPg = (): Promise<typeof import('pg').default> => (pg ??= import('pg').then((module) => module.default));
export const loadMysql = (): Promise<typeof import('mysql2/promise')> => (mysql ??= import('mysql2/promise'));
export const loadRedis = (): Promise<typeof import('ioredis').Redis> => (redis ??= import('ioredis').then((module) => module.Redis));

/** Where the provisioning script installs each file; the Debian and Ubuntu packages read these. */
export const REDIS_CONF_PATH = '/etc/redis/redis.conf'
export const REDIS_AUTH_PATH = '/etc/redis/openemr-redis-auth.conf'
export const REDIS_LOG_PATH = '/var/log/redis/redis-server.log'
export const REDIS_UNIT = 'redis-server.service'

/**
 * Stands in for the byte count when maxmemory is 'auto'; the script replaces it with 75 % of
 * MemTotal. Hashing the input 'auto' instead of a byte count keeps configHash independent of
 * the machine, and a resize to another instance type still rewrites the file on the next run.
 */
export const MAXMEMORY_AUTO_PLACEHOLDER = '@OPENEMR_REDIS_MAXMEMORY_AUTO@'

import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import {
  MAXMEMORY_AUTO_PLACEHOLDER,
  REDIS_AUTH_PATH,
  REDIS_CONF_PATH,
  REDIS_LOG_PATH
} from '../../src/redis/paths.js'
import { PROVISION_SCRIPT } from '../../src/redis/provision-script.js'

describe('PROVISION_SCRIPT', () => {
  it('is valid bash', () => {
    const result = spawnSync('bash', ['-n'], { input: PROVISION_SCRIPT, encoding: 'utf8' })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  it('stops at the first failing command and at unset variables', () => {
    expect(PROVISION_SCRIPT.split('\n')[0]).toBe('set -eu')
  })

  it('downloads nothing but distribution packages', () => {
    expect(PROVISION_SCRIPT).not.toMatch(/\b(curl|wget|nc|git)\b/)
    expect(PROVISION_SCRIPT).not.toMatch(/https?:\/\//)
    expect(PROVISION_SCRIPT).not.toMatch(/add-apt-repository|sources\.list/)
  })

  it('installs non-interactively, keeping configuration files apt would ask about', () => {
    expect(PROVISION_SCRIPT).toMatch(/export [^\n]*DEBIAN_FRONTEND=noninteractive/)
    expect(PROVISION_SCRIPT).toMatch(/apt_get install -y --no-install-recommends/)
    expect(PROVISION_SCRIPT).toContain('--force-confold')
    expect(PROVISION_SCRIPT).toContain('apt_get update')
  })

  it('reads its whole input before anything else can consume stdin', () => {
    const read = PROVISION_SCRIPT.indexOf('read -r kind name data')
    const detach = PROVISION_SCRIPT.indexOf('exec </dev/null')
    expect(read).toBeGreaterThan(0)
    expect(detach).toBeGreaterThan(read)
    for (const command of ['cloud-init status', 'apt-get', 'systemctl restart'])
      expect(PROVISION_SCRIPT.indexOf(command)).toBeGreaterThan(detach)
  })

  it('gives redis-cli the password only through the environment', () => {
    expect(PROVISION_SCRIPT).toContain('export REDISCLI_AUTH')
    expect(PROVISION_SCRIPT).not.toMatch(/redis-cli[^\n]*(-a |--pass|--user|\$stage\/password)/)
  })

  it('writes the files the rendered configuration refers to', () => {
    for (const path of [REDIS_CONF_PATH, REDIS_AUTH_PATH]) expect(PROVISION_SCRIPT).toContain(path)
    expect(PROVISION_SCRIPT).toContain(MAXMEMORY_AUTO_PLACEHOLDER)
    expect(REDIS_LOG_PATH).toBe('/var/log/redis/redis-server.log')
  })

  it('restarts Redis only when one of its files changed', () => {
    const restarts = PROVISION_SCRIPT.split('\n').filter(l => /systemctl restart/.test(l))
    expect(restarts).toHaveLength(1)
    expect(PROVISION_SCRIPT).toMatch(
      /if \[ "\$restart" = true \]; then\n\s+log "restarting redis-server"\n\s+systemctl restart/
    )
  })

  it('ends with one machine-readable result line', () => {
    expect(PROVISION_SCRIPT.trimEnd().split('\n').slice(-2).join('\n')).toMatch(
      /^printf 'OPENEMR_REDIS_RESULT changed=%s restarted=%s/
    )
  })
})

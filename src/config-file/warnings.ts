// Mistakes in the legacy .ebextensions file that leave sessions on local disk (or break them)
// without any error at deploy time. Each costs an afternoon to find by hand.

const BEANSTALK_HOOKS = '/opt/elasticbeanstalk/hooks/'
// An s command inside a sed call: group 1 the delimiter, group 2 the pattern.
const SED_SUBSTITUTION = /\bs([^\w\s\\])((?:\\.|(?!\1).)*)\1/g
const SAVE_PATH = /session\\?\.save_path/
const URL_PASSWORD = /tcp:(?:\/\/|\\\/\\\/)[^\s"']*[?&]auth(?:=|\[|%5B)/i

/** "line 3" or "lines 3, 7". */
export function lines(numbers: number[]): string {
  return `line${numbers.length === 1 ? '' : 's'} ${numbers.join(', ')}`
}

function linesWhere(all: string[], test: (line: string) => boolean): number[] {
  return all.flatMap((line, i) => (test(line) ? [i + 1] : []))
}

function editsCommentedSavePath(line: string): boolean {
  if (!/\bsed\b/.test(line)) return false
  for (const [, , pattern] of line.matchAll(SED_SUBSTITUTION))
    if (SAVE_PATH.test(pattern) && !pattern.includes(';')) return true
  return false
}

/** Warnings about the file as it stands; they do not depend on the endpoint written into it. */
export function configWarnings(text: string): string[] {
  const all = text.split(/\r\n|\n|\r/)
  const warnings: string[] = []

  const hooks = linesWhere(all, l => l.includes(BEANSTALK_HOOKS))
  if (hooks.length > 0)
    warnings.push(
      `${lines(hooks)} use ${BEANSTALK_HOOKS}, which only Elastic Beanstalk's retired Amazon Linux AMI platforms run. ` +
        'On Amazon Linux 2 and Amazon Linux 2023 platforms that hook never executes and PHP keeps file sessions. ' +
        'Ship the script in the application bundle as .platform/hooks/postdeploy/<name>.sh ' +
        '(and .platform/confighooks/postdeploy/ to repeat it after configuration changes).'
    )

  const seds = linesWhere(all, editsCommentedSavePath)
  if (seds.length > 0)
    warnings.push(
      `${lines(seds)}: the sed looks for session.save_path without the ';' that comments it out in a stock php.ini ` +
        `(;session.save_path = "/tmp"). There the match keeps the ';' in front of what it inserts, so ` +
        'session.save_handler = redis stays commented out while session.save_path becomes the tcp:// URL: PHP ' +
        'keeps the files handler and cannot open its sessions; where the line reads differently, the sed changes ' +
        'nothing and still succeeds. Set both values in a drop-in file such as /etc/php.d/99-redis-sessions.ini instead.'
    )

  const passwords = linesWhere(all, l => URL_PASSWORD.test(l))
  if (passwords.length > 0)
    warnings.push(
      `${lines(passwords)} put a Redis password (auth) into a session.save_path URL in a file that is committed, ` +
        'so everyone who can read the repository has it. The action never writes one there: remove it and give ' +
        'the app servers the password through their environment or a secrets store.'
    )
  return warnings
}

import { encryptedRsaPrivateKeyPem, rsaPrivateKeyPem } from './keys.js'

export const VALID_INPUTS: Record<string, string> = {
  'vpc-id': 'vpc-0a1b2c3d4e5f67890',
  'aws-region': 'us-east-1'
}

// Each case: the inputs on top of a valid set, the input that must be named, and words the
// message must contain (what is wrong and how to fix it).
export const BAD_INPUTS: [string, Record<string, string>, string, RegExp][] = [
  ['missing vpc-id', { 'vpc-id': '' }, 'vpc-id', /is required.*vpc-/],
  ['vpc-id of another kind', { 'vpc-id': 'subnet-12345678' }, 'vpc-id', /not a VPC id/],
  ['vpc-id with upper case', { 'vpc-id': 'vpc-ABCDEF12' }, 'vpc-id', /hex digits/],
  ['vpc-id of wrong length', { 'vpc-id': 'vpc-123' }, 'vpc-id', /8 or 17/],
  [
    'no region anywhere',
    { 'aws-region': '' },
    'aws-region',
    /AWS_REGION.*configure-aws-credentials/
  ],
  [
    'region that is not one',
    { 'aws-region': 'virginia' },
    'aws-region',
    /not an AWS region.*us-east-1/
  ],
  ['unknown mode', { mode: 'create' }, 'mode', /'create' is not one of apply, plan, destroy/],
  ['subnet-id malformed', { 'subnet-id': 'subnet-xyz' }, 'subnet-id', /not a subnet id/],
  ['ami-id malformed', { 'ami-id': 'ami-80861296x' }, 'ami-id', /not an AMI id/],
  [
    'client group malformed',
    { 'client-security-group-id': 'default' },
    'client-security-group-id',
    /not a security group id/
  ],
  ['instance type without family', { 'instance-type': 'medium' }, 'instance-type', /t3\.medium/],
  [
    'instance type with spaces',
    { 'instance-type': 't3 medium' },
    'instance-type',
    /not an EC2 instance type/
  ],
  [
    'disk below the image size',
    { 'disk-size-gb': '4' },
    'disk-size-gb',
    /8 to 16384.*at least 8 GiB/
  ],
  ['disk not a number', { 'disk-size-gb': '8GB' }, 'disk-size-gb', /not a whole number/],
  ['disk above the gp3 limit', { 'disk-size-gb': '20000' }, 'disk-size-gb', /out of range/],
  [
    'key-name without key',
    { 'key-name': 'ops' },
    'ssh-private-key',
    /key-name 'ops' is set but ssh-private-key is empty/
  ],
  [
    'key without key-name',
    { 'ssh-private-key': rsaPrivateKeyPem() },
    'key-name',
    /key-name is empty/
  ],
  [
    'key that does not parse',
    { 'key-name': 'ops', 'ssh-private-key': 'hunter2-not-a-key' },
    'ssh-private-key',
    /does not parse.*BEGIN and END/
  ],
  [
    'passphrase-protected key',
    { 'key-name': 'ops', 'ssh-private-key': encryptedRsaPrivateKeyPem() },
    'ssh-private-key',
    /passphrase/
  ],
  [
    'key-name with control characters',
    { 'key-name': 'ops\u0007', 'ssh-private-key': rsaPrivateKeyPem() },
    'key-name',
    /printable ASCII/
  ],
  ['ssh-user with upper case', { 'ssh-user': 'Ubuntu' }, 'ssh-user', /not a Linux user name/],
  ['ssh-via unknown', { 'ssh-via': 'bastion' }, 'ssh-via', /public, private/],
  ['ssh-cidr nonsense', { 'ssh-cidr': 'my-laptop' }, 'ssh-cidr', /not an IPv4 address or CIDR/],
  [
    'ssh-cidr open to the world',
    { 'ssh-cidr': '0.0.0.0/0' },
    'ssh-cidr',
    /4294967296 addresses.*\/16 or narrower/
  ],
  ['ssh-cidr too wide', { 'ssh-cidr': '10.0.0.0/8' }, 'ssh-cidr', /\/16 or narrower/],
  ['ssh-cidr with bad octet', { 'ssh-cidr': '300.1.1.1/32' }, 'ssh-cidr', /not an IPv4/],
  [
    'group name starting with sg-',
    { 'security-group-name': 'sg-redis' },
    'security-group-name',
    /not starting with sg-/
  ],
  [
    'group name default',
    { 'security-group-name': 'default' },
    'security-group-name',
    /VPC's own default group/
  ],
  [
    'group name with forbidden characters',
    { 'security-group-name': 'redis%' },
    'security-group-name',
    /not a valid security group name/
  ],
  [
    'instance name too long',
    { 'instance-name': 'x'.repeat(300) },
    'instance-name',
    /256 characters/
  ],
  ['elastic-ip unknown', { 'elastic-ip': 'yes' }, 'elastic-ip', /keep, release, none/],
  ['privileged redis port', { 'redis-port': '80' }, 'redis-port', /1024 to 65535.*redis user/],
  ['redis port out of range', { 'redis-port': '70000' }, 'redis-port', /out of range/],
  [
    'short password',
    { 'redis-password': 'shortpass' },
    'redis-password',
    /9 characters; use 16 to 512.*openssl rand/
  ],
  [
    'password that breaks save_path',
    { 'redis-password': 'abcdefgh&ijklmnop#q' },
    'redis-password',
    /session\.save_path/
  ],
  [
    'maxmemory nonsense',
    { 'redis-maxmemory': 'lots' },
    'redis-maxmemory',
    /not a memory size.*2gb/
  ],
  ['maxmemory too small', { 'redis-maxmemory': '1mb' }, 'redis-maxmemory', /at least 32mb/],
  ['deployment with spaces', { deployment: 'my redis' }, 'deployment', /1–40 letters/],
  ['deployment too long', { deployment: 'd'.repeat(41) }, 'deployment', /1–40/],
  ['tag without =', { tags: 'team' }, 'tags', /not key=value/],
  ['tag with aws: prefix', { tags: 'aws:owner=me' }, 'tags', /reserves/],
  ['tag that overrides Name', { tags: 'Name=other' }, 'tags', /instance-name/],
  [
    'tag that overrides the deployment tag',
    { tags: 'openemr-redis:deployment=x' },
    'tags',
    /set by the action/
  ],
  ['tag given twice', { tags: 'a=1\na=2' }, 'tags', /given twice/],
  ['tag value too long', { tags: `a=${'v'.repeat(300)}` }, 'tags', /256 characters/],
  [
    'cleanup-on-failure not boolean',
    { 'cleanup-on-failure': 'maybe' },
    'cleanup-on-failure',
    /true or false/
  ],
  ['timeout too short', { 'timeout-seconds': '10' }, 'timeout-seconds', /60 to 21600/],
  [
    'repository without owner',
    { 'config-repository': 'openemr' },
    'config-repository',
    /owner\/name/
  ],
  [
    'repository with three parts',
    { 'config-repository': 'a/b/c' },
    'config-repository',
    /owner\/name/
  ],
  [
    'config-path escaping the repository',
    { 'config-repository': 'openemr/openemr', 'github-token': 't', 'config-path': '../etc/passwd' },
    'config-path',
    /'\.\.'/
  ],
  [
    'absolute config-path',
    { 'config-repository': 'openemr/openemr', 'github-token': 't', 'config-path': '/etc/passwd' },
    'config-path',
    /relative path/
  ],
  [
    'config-path inside .git',
    { 'config-repository': 'openemr/openemr', 'github-token': 't', 'config-path': '.git/config' },
    'config-path',
    /\.git segments/
  ],
  [
    'branch with ..',
    { 'config-repository': 'openemr/openemr', 'github-token': 't', 'config-branch': 'a..b' },
    'config-branch',
    /not a valid git branch name/
  ],
  [
    'branch with a space',
    { 'config-repository': 'openemr/openemr', 'github-token': 't', 'config-branch': 'my branch' },
    'config-branch',
    /without spaces/
  ],
  [
    'repository without token',
    { 'config-repository': 'openemr/openemr' },
    'github-token',
    /contents: write/
  ],
  [
    'pull-request without repository',
    { 'pull-request': 'true' },
    'pull-request',
    /config-repository is empty/
  ],
  ['pull-request not boolean', { 'pull-request': 'sure' }, 'pull-request', /true or false/]
]

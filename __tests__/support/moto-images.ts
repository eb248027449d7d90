// Images moto serves instead of its defaults (MOTO_AMIS_PATH replaces the whole catalogue, in
// every region): Canonical's Ubuntu 24.04 for both architectures, an older build of each so
// "newest" means something, a 22.04 image and a look-alike from another owner that the
// fallback search must not pick, named as Canonical names them.

export const CANONICAL = '099720109477'
export const IMPOSTOR_OWNER = '111122223333'

export interface MotoAmi {
  ami_id: string
  name: string
  description: string
  owner_id: string
  public: boolean
  virtualization_type: 'hvm'
  architecture: 'x86_64' | 'arm64'
  state: 'available'
  platform: null
  image_type: 'machine'
  hypervisor: 'xen'
  root_device_name: string
  root_device_type: 'ebs'
  sriov: 'simple'
  creation_date: string
  tags: Record<string, string>
}

function image(
  id: string,
  owner: string,
  series: string,
  arch: 'amd64' | 'arm64',
  build: string
): MotoAmi {
  const version = series === 'noble' ? '24.04' : '22.04'
  const date = `${build.slice(0, 4)}-${build.slice(4, 6)}-${build.slice(6, 8)}T08:00:00.000Z`
  return {
    ami_id: id,
    name: `ubuntu/images/hvm-ssd-gp3/ubuntu-${series}-${version}-${arch}-server-${build}`,
    description: `Canonical, Ubuntu, ${version}, ${arch} ${series} image`,
    owner_id: owner,
    public: true,
    virtualization_type: 'hvm',
    architecture: arch === 'amd64' ? 'x86_64' : 'arm64',
    state: 'available',
    platform: null,
    image_type: 'machine',
    hypervisor: 'xen',
    root_device_name: '/dev/sda1',
    root_device_type: 'ebs',
    sriov: 'simple',
    creation_date: date,
    tags: {}
  }
}

export const IMAGES = {
  nobleAmd64: image('ami-0a64a64a64a640002', CANONICAL, 'noble', 'amd64', '20250610'),
  nobleAmd64Old: image('ami-0a64a64a64a640001', CANONICAL, 'noble', 'amd64', '20250305'),
  nobleArm64: image('ami-0a4a4a4a4a4a40002', CANONICAL, 'noble', 'arm64', '20250610'),
  nobleArm64Old: image('ami-0a4a4a4a4a4a40001', CANONICAL, 'noble', 'arm64', '20250305'),
  // Newer than every noble build: the name pattern, not the date, must exclude it.
  jammyAmd64: image('ami-0a22a22a22a220001', CANONICAL, 'jammy', 'amd64', '20250701'),
  // Canonical's name and the newest date, but someone else's account.
  impostorAmd64: image('ami-0bad0bad0bad00001', IMPOSTOR_OWNER, 'noble', 'amd64', '20991231')
} as const

export const UBUNTU_PARAMETER = (arch: 'amd64' | 'arm64') =>
  `/aws/service/canonical/ubuntu/server/24.04/stable/current/${arch}/hvm/ebs-gp3/ami-id`

/** Canonical's public parameters as AWS serves them: each names the current noble build. */
export const PUBLIC_PARAMETERS: Record<string, string> = {
  [UBUNTU_PARAMETER('amd64')]: IMAGES.nobleAmd64.ami_id,
  [UBUNTU_PARAMETER('arm64')]: IMAGES.nobleArm64.ami_id
}

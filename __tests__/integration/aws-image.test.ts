// resolveImage against moto: Canonical's SSM parameter (served by moto-server.py), the search
// fallback among seeded images (moto-images.ts), and ami-id checks.
import { expect, it } from '@jest/globals'
import { createAwsClients } from '../../src/aws/client.js'
import { resolveImage } from '../../src/aws/image.js'
import { IMAGES, UBUNTU_PARAMETER } from '../support/moto-images.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws image against moto', suite => {
  const resolve = (amiId: string, instanceType: string) => {
    const { ec2, ssm } = createAwsClients(suite.moto.region)
    return resolveImage(ec2, ssm, { amiId, instanceType })
  }

  it("takes the image Canonical's SSM parameter names, per architecture", async () => {
    const amd = await resolve('', 't3.medium')
    expect(amd).toMatchObject({
      imageId: IMAGES.nobleAmd64.ami_id,
      name: IMAGES.nobleAmd64.name,
      architecture: 'x86_64',
      source: 'ssm',
      rootDeviceName: '/dev/sda1',
      instanceType: { instanceType: 't3.medium', architecture: 'x86_64', memoryMiB: 4096 }
    })
    const arm = await resolve('', 'm7g.large')
    expect(arm).toMatchObject({
      imageId: IMAGES.nobleArm64.ami_id,
      architecture: 'arm64',
      source: 'ssm',
      instanceType: { memoryMiB: 8192 }
    })
  })

  it("falls back to the newest noble image in Canonical's account without the parameter", async () => {
    await suite.moto.setPublicParameters({})
    const amd = await resolve('', 't3.medium')
    // Not the older build, not the newer 22.04 image, not the look-alike from another account.
    expect(amd).toMatchObject({ imageId: IMAGES.nobleAmd64.ami_id, source: 'search' })
    expect(amd.fallbackReason).toMatch(/ParameterNotFound/)
    const arm = await resolve('', 'm7g.large')
    expect(arm).toMatchObject({ imageId: IMAGES.nobleArm64.ami_id, source: 'search' })
  })

  it('falls back when the parameter names an image the region does not have', async () => {
    await suite.moto.setPublicParameters({ [UBUNTU_PARAMETER('amd64')]: 'ami-0123456789abcdef0' })
    const amd = await resolve('', 't3.medium')
    expect(amd).toMatchObject({ imageId: IMAGES.nobleAmd64.ami_id, source: 'search' })
    expect(amd.fallbackReason).toMatch(/ami-0123456789abcdef0, which is not visible/)
  })

  it('takes a given ami-id after checking it, and rejects a mismatch or a missing image', async () => {
    expect(await resolve(IMAGES.nobleAmd64Old.ami_id, 't3.medium')).toMatchObject({
      imageId: IMAGES.nobleAmd64Old.ami_id,
      source: 'input'
    })
    await expect(resolve(IMAGES.nobleArm64.ami_id, 't3.medium')).rejects.toThrow(
      /is a arm64 image but instance-type t3.medium runs x86_64/
    )
    await expect(resolve('ami-0123456789abcdef0', 't3.medium')).rejects.toThrow(
      /ami-id ami-0123456789abcdef0 does not exist in us-east-1/
    )
  })

  it('rejects an instance type the region does not have', async () => {
    await expect(resolve('', 't3.bogus')).rejects.toThrow(
      'instance-type t3.bogus does not exist in us-east-1'
    )
  })
})

import { EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { hasErrorCode } from './errors.js'

export type AwsService = 'ec2' | 'ssm'

/** Told the API action name (like DescribeInstances) of every command a client sends. */
export type CallListener = (service: AwsService, action: string) => void

export interface AwsClients {
  ec2: EC2Client
  ssm: SSMClient
}

export interface AwsClientOptions {
  onCall?: CallListener
  /** Attempts per command including the first; default MAX_ATTEMPTS. */
  maxAttempts?: number
}

/**
 * EC2 throttles per account and action (RequestLimitExceeded); the adaptive mode adds a
 * client-side rate limiter on top of exponential backoff, and eight attempts ride out a
 * burst of throttling without hiding a real outage for minutes.
 */
export const MAX_ATTEMPTS = 8

// Bounded sockets: a hung connection must not outlive the run's own deadline unnoticed.
const REQUEST_HANDLER = { connectionTimeout: 5_000, requestTimeout: 30_000 }

const MIDDLEWARE_NAME = 'openemrRedisCallListener'

/**
 * One EC2 and one SSM client for a region. Endpoints come from the SDK's own standard
 * variables (AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL), which is how the
 * tests route the very same code to moto; credentials come from the default provider chain
 * (environment variables set by aws-actions/configure-aws-credentials, OIDC web identity,
 * profiles, instance roles).
 */
export function createAwsClients(region: string, options: AwsClientOptions = {}): AwsClients {
  const config = {
    region,
    retryMode: 'adaptive',
    maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER
  }
  const ec2 = new EC2Client(config)
  const ssm = new SSMClient(config)
  refuseSdkRetries(ec2, NOT_RETRIED_BY_SDK)
  if (options.onCall) {
    reportCalls(ec2, 'ec2', options.onCall)
    reportCalls(ssm, 'ssm', options.onCall)
  }
  return { ec2, ssm }
}

/**
 * Reports each command once, before serialization (initialize step), so SDK retries of the
 * same command are not counted twice and a command that fails is still reported.
 */
export function reportCalls(
  client: EC2Client | SSMClient,
  service: AwsService,
  onCall: CallListener
): void {
  const report = (commandName: string | undefined) =>
    onCall(service, actionName(commandName ?? 'UnknownCommand'))
  const options = { step: 'initialize', name: MIDDLEWARE_NAME, override: true } as const
  // Two literal calls: each client's stack is typed by its own command inputs and outputs.
  if (client instanceof EC2Client)
    client.middlewareStack.add(
      (next, context) => async args => {
        report(context.commandName)
        return next(args)
      },
      options
    )
  else
    client.middlewareStack.add(
      (next, context) => async args => {
        report(context.commandName)
        return next(args)
      },
      options
    )
}

/**
 * Answers the SDK must not retry. EC2 sends InsufficientInstanceCapacity as HTTP 500, which
 * the SDK would retry in the same availability zone up to eight times with growing pauses;
 * launchInstance does better by moving on to the next subnet at once.
 */
export const NOT_RETRIED_BY_SDK = ['InsufficientInstanceCapacity']

type RetryStrategyProvider = EC2Client['config']['retryStrategy']
type RetryStrategy = Awaited<ReturnType<RetryStrategyProvider>>

/**
 * Wraps the client's own retry strategy (adaptive) so that errors with these codes end the
 * command at the first attempt; everything else is retried exactly as before.
 */
export function refuseSdkRetries(client: EC2Client | SSMClient, codes: string[]): void {
  const resolve = client.config.retryStrategy as RetryStrategyProvider
  let wrapped: Promise<RetryStrategy> | undefined
  const provider: RetryStrategyProvider = () =>
    (wrapped ??= resolve().then(inner => refusing(inner, codes)))
  client.config.retryStrategy = provider
}

function refusing(inner: RetryStrategy, codes: string[]): RetryStrategy {
  // Only the token-based (V2) strategies, which every current retry mode uses, are wrapped.
  if (!('refreshRetryTokenForRetry' in inner)) return inner
  return {
    mode: (inner as { mode?: string }).mode,
    acquireInitialRetryToken: scope => inner.acquireInitialRetryToken(scope),
    refreshRetryTokenForRetry: (token, info) =>
      hasErrorCode(info.error, ...codes)
        ? Promise.reject(info.error)
        : inner.refreshRetryTokenForRetry(token, info),
    recordSuccess: token => inner.recordSuccess(token)
  } as RetryStrategy
}

/** DescribeInstancesCommand → DescribeInstances */
export function actionName(commandName: string): string {
  return commandName.replace(/Command$/, '')
}

/** True for every action that can change something: all but Describe*, Get* and List*. */
export function isMutating(action: string): boolean {
  return !/^(Describe|Get|List)[A-Z]/.test(action)
}

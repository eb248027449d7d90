// GitHub's published OpenAPI description (from @octokit/openapi) as a contract for the local
// GitHub server: request bodies and responses are checked for required properties, types,
// enums and nullability, with $refs resolved. Enough to catch a server (or client) that drifts
// from what GitHub really sends and accepts.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

type Schema = {
  $ref?: string
  type?: string
  nullable?: boolean
  enum?: unknown[]
  required?: string[]
  properties?: Record<string, Schema>
  additionalProperties?: boolean | Schema
  items?: Schema
  allOf?: Schema[]
  oneOf?: Schema[]
  anyOf?: Schema[]
  minLength?: number
  maxLength?: number
  minItems?: number
}

interface MediaType {
  schema?: Schema
}
interface Response {
  $ref?: string
  content?: Record<string, MediaType>
}
interface Parameter {
  $ref?: string
  name: string
  in: string
  required?: boolean
}
interface OperationObject {
  operationId: string
  parameters?: Parameter[]
  requestBody?: { content: Record<string, MediaType> }
  responses: Record<string, Response>
}
interface Spec {
  paths: Record<string, Record<string, OperationObject>>
  components: Record<string, Record<string, unknown>>
}

export interface Operation {
  operationId: string
  method: string
  /** The path template, like /repos/{owner}/{repo}/contents/{path}. */
  template: string
  query: string[]
  object: OperationObject
}

const SPEC_FILE = '@octokit/openapi/generated/api.github.com.json'

let cached: Spec | undefined
function loadSpec(): Spec {
  cached ??= JSON.parse(
    readFileSync(createRequire(import.meta.url).resolve(SPEC_FILE), 'utf8')
  ) as Spec
  return cached
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (Number.isInteger(value)) return 'integer'
  return typeof value
}

export class OpenApiContract {
  private readonly spec = loadSpec()

  /** Follows `#/components/...` references until it reaches an object that is not one. */
  resolve<T extends { $ref?: string }>(node: T): T {
    let current = node
    for (let hops = 0; current.$ref !== undefined; hops++) {
      if (hops > 20) throw new Error(`$ref cycle at ${current.$ref}`)
      const parts = current.$ref.replace(/^#\//, '').split('/')
      let target: unknown = this.spec
      for (const p of parts) target = (target as Record<string, unknown>)[p]
      if (target === undefined) throw new Error(`unresolvable $ref ${current.$ref}`)
      current = target as T
    }
    return current
  }

  operation(method: string, template: string): Operation {
    const object = this.spec.paths[template]?.[method.toLowerCase()]
    if (!object) throw new Error(`GitHub's API has no ${method} ${template}`)
    const query = (object.parameters ?? [])
      .map(p => this.resolve(p))
      .filter(p => p.in === 'query')
      .map(p => p.name)
    return {
      operationId: object.operationId,
      method: method.toUpperCase(),
      template,
      query,
      object
    }
  }

  /** Problems with a JSON request body; empty when it satisfies the operation's schema. */
  checkRequest(op: Operation, body: unknown): string[] {
    const schema = op.object.requestBody?.content['application/json']?.schema
    if (!schema) return body === undefined ? [] : [`${op.operationId} takes no request body`]
    return this.check(schema, body, `${op.operationId} request`, true)
  }

  /** Problems with a response; empty when GitHub documents this status with this shape. */
  checkResponse(
    op: Operation,
    status: number,
    body: unknown,
    mediaType = 'application/json'
  ): string[] {
    const documented = op.object.responses[String(status)]
    if (!documented) return [`${op.operationId} does not document status ${status}`]
    const response = this.resolve(documented)
    if (!response.content) return body === undefined ? [] : [`${status} has no body in the spec`]
    const schema = response.content[mediaType]?.schema
    if (!schema) return [`${op.operationId} ${status} has no ${mediaType} body in the spec`]
    return this.check(schema, body, `${op.operationId} ${status}`)
  }

  /** `strict` also flags properties the schema does not name (a client's typo). */
  check(schemaOrRef: Schema, value: unknown, at: string, strict = false): string[] {
    const schema = this.resolve(schemaOrRef)
    if (value === null)
      return schema.nullable || schema.enum?.includes(null) ? [] : [`${at}: null is not allowed`]
    const problems: string[] = []
    for (const part of schema.allOf ?? []) problems.push(...this.check(part, value, at, strict))
    const choices = schema.oneOf ?? schema.anyOf
    if (choices) {
      const results = choices.map(c => this.check(c, value, at, strict))
      if (!results.some(r => r.length === 0))
        problems.push(
          `${at}: matches none of ${choices.length} alternatives (${results
            .map(r => r[0])
            .join(' | ')})`
        )
    }
    if (schema.type !== undefined) {
      const actual = typeOf(value)
      const fits = actual === schema.type || (schema.type === 'number' && actual === 'integer')
      if (!fits) return [...problems, `${at}: expected ${schema.type}, got ${actual}`]
    }
    if (schema.enum && !schema.enum.includes(value))
      problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
    if (typeof value === 'string') {
      if (schema.minLength !== undefined && value.length < schema.minLength)
        problems.push(`${at}: shorter than ${schema.minLength}`)
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        problems.push(`${at}: longer than ${schema.maxLength}`)
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems)
        problems.push(`${at}: fewer than ${schema.minItems} items`)
      if (schema.items)
        value.forEach((item, i) =>
          problems.push(...this.check(schema.items!, item, `${at}[${i}]`, strict))
        )
    } else if (typeof value === 'object' && value !== undefined) {
      const record = value as Record<string, unknown>
      for (const key of schema.required ?? [])
        if (record[key] === undefined) problems.push(`${at}: missing required ${key}`)
      for (const [key, v] of Object.entries(record)) {
        if (v === undefined) continue
        const property = schema.properties?.[key]
        if (property) problems.push(...this.check(property, v, `${at}.${key}`, strict))
        else if (typeof schema.additionalProperties === 'object')
          problems.push(...this.check(schema.additionalProperties, v, `${at}.${key}`, strict))
        else if (strict || schema.additionalProperties === false)
          problems.push(`${at}: unknown property ${key}`)
      }
    }
    return problems
  }

  /** One of GitHub's own example bodies, as a template for a realistic response. */
  example(name: string): unknown {
    const example = this.spec.components.examples?.[name] as { value?: unknown } | undefined
    if (!example?.value) throw new Error(`no example ${name} in the spec`)
    return structuredClone(example.value)
  }
}

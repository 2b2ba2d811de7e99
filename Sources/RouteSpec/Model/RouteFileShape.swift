/// The value a route-file key takes, as the decoder reads it; the JSON Schema is generated from it.
public indirect enum ValueShape: Sendable {
  /// A string; `nonEmpty` when the decoder rejects `""`.
  case string(nonEmpty: Bool)
  /// One of an enumeration's raw values.
  case choice([String])
  /// `true` or `false`.
  case boolean
  /// A TOML integer.
  case integer
  /// A TOML integer within a range (the decoder reports any other as out of range).
  case integerIn(ClosedRange<Int>)
  /// A TOML integer or float.
  case number
  /// A string or a list of strings; `nonEmptyList` when `[]` is an error.
  case stringOrList(nonEmptyList: Bool)
  /// One of these values, or a list of them; `nonEmptyList` when `[]` is an error.
  case choiceOrList([String], nonEmptyList: Bool)
  /// A name, or a list whose items are names or tables of this shape with a required `name`
  /// (a name alone stands for the table with every other key at its default).
  case namesOrTables(TableShape, required: String)
  /// `"250ms"`, `"5s"`, `"1m30s"`.
  case duration
  /// `"20MiB"` or a whole number of bytes.
  case size
  /// A nested table with a fixed set of keys.
  case table(TableShape)
  /// A table whose keys are names chosen by the operator (`[backends.NAME]`, headers).
  case map(ValueShape)
  /// A table whose keys come from a closed set, each holding `value`; `exactlyOne` when only one may be given.
  case keyedBy([String], value: ValueShape, exactlyOne: Bool)
  /// Either of two shapes (`temperature = 0.2` or `temperature = { max = 1 }`).
  case either(ValueShape, ValueShape)
  /// `[[name]]`: an array of tables.
  case arrayOfTables(TableShape)
}

/// One key of a table: its name, its value, and a line for editors that complete route files.
public struct KeyShape: Sendable {
  /// The key as written.
  public let name: String
  /// What it holds.
  public let value: ValueShape
  /// Shown by editors as the key's description.
  public let summary: String

  init(_ name: String, _ value: ValueShape, _ summary: String) {
    self.name = name
    self.value = value
    self.summary = summary
  }
}

/// The keys a table allows: `TableReader` reports every other key as unknown (L0201) from this list,
/// and `louter schema` prints it, so the two cannot disagree.
public struct TableShape: Sendable {
  /// The keys, in the order the decoder reads them (the order of "known keys: ..." in help).
  public let keys: [KeyShape]

  /// The key names.
  public var names: [String] { keys.map(\.name) }
}

/// The route language's tables, declared once for the decoder's key checks and the JSON Schema.
public enum RouteFileShape {
  /// The `system_prompt` modes: the keys of that table.
  public static let systemPromptModes = ["prepend", "append", "replace"]

  /// `[server]`.
  public static let server = TableShape(keys: [
    KeyShape("listen", .string(nonEmpty: true), "host:port to listen on; \"[::1]:8080\" for IPv6"),
    KeyShape("auth", .choice(AuthMode.allCases.map(\.rawValue)), "required: every request needs a known key"),
    KeyShape("max_request_body", .size, "largest request body accepted (\"20MiB\"); 413 above it"),
    KeyShape("request_log", .string(nonEmpty: true), "stdout, off, or a file path (JSON lines)"),
    KeyShape("header_timeout", .duration, "a request's line and headers must arrive within this of their first byte"),
    KeyShape("body_timeout", .duration, "a request body must arrive whole within this of the end of its head"),
    KeyShape("idle_timeout", .duration, "a keep-alive connection with no request in flight is closed after this"),
    KeyShape("workers", .integer, "event loops, each on its own thread (1 to 1024; default: one per core)"),
    KeyShape(
      "idle_poll", .boolean,
      "an idle event loop polls for events up to 200 µs before it sleeps, adapting to how soon they come: lower latency on virtual machines for CPU time that would otherwise idle (default false)"
    ),
    KeyShape(
      "admin_keys", .stringOrList(nonEmptyList: false),
      "\"sha256:...\" digests of the keys that may read /metrics (default: none, and /metrics only on loopback)"),
  ])

  /// `[backends.NAME]`.
  public static let backend = TableShape(keys: [
    KeyShape("protocol", .choice(BackendProtocol.allCases.map(\.rawValue)), "the wire protocol the backend speaks"),
    KeyShape("url", .string(nonEmpty: true), "absolute http(s) base URL"),
    KeyShape("api_key", .string(nonEmpty: true), "the upstream key, as \"${VAR}\" from the environment"),
    KeyShape("flavor", .choice(BackendFlavor.allCases.map(\.rawValue)), "openai only: azure for Azure OpenAI"),
    KeyShape("api_version", .string(nonEmpty: true), "azure only: the api-version"),
    KeyShape("headers", .map(.string(nonEmpty: false)), "extra headers sent upstream; \"${VAR}\" allowed"),
    KeyShape("connect_timeout", .duration, "connect deadline"),
    KeyShape("first_byte_timeout", .duration, "no first token in time: next backend"),
    KeyShape("stream_idle_timeout", .duration, "longest gap between two stream chunks"),
    KeyShape("timeout", .duration, "whole-request deadline"),
    KeyShape("max_concurrency", .integer, "in-flight requests before the backend counts as busy"),
    KeyShape("forward_key", .boolean, "send the caller's own key upstream"),
    KeyShape("max_tokens_field", .string(nonEmpty: true), "openai only: max_tokens or max_completion_tokens"),
    KeyShape("stream_usage", .boolean, "openai only: ask for stream_options.include_usage"),
    KeyShape("pace", .duration, "echo only: the wait before each streamed word after the first"),
    KeyShape(
      "models", .namesOrTables(backendModel, required: "name"),
      "what GET models lists for this backend: names, or { name, input_tokens, output_tokens }"),
  ])

  /// An element of a backend's `models` written as a table; `name` is required.
  public static let backendModel = TableShape(keys: [
    KeyShape("name", .string(nonEmpty: true), "the model name clients call"),
    KeyShape("input_tokens", .integerIn(ModelEntrySyntax.limitRange), "inputTokenLimit (default by protocol)"),
    KeyShape("output_tokens", .integerIn(ModelEntrySyntax.limitRange), "outputTokenLimit (default by protocol)"),
  ])

  /// `[clients.NAME]`.
  public static let client = TableShape(keys: [
    KeyShape("keys", .stringOrList(nonEmptyList: false), "\"sha256:...\" digests of the client's keys"),
    KeyShape("key_env", .stringOrList(nonEmptyList: false), "environment variables holding the client's keys"),
    KeyShape(
      "limits", .table(clientLimits),
      "per-client request and token limits, counted by each louter replica alone; over one: 429"),
  ])

  /// A client's `limits`: one key per ``ClientLimitKind``.
  public static let clientLimits = TableShape(
    keys: ClientLimitKind.allCases.map { KeyShape($0.rawValue, .integerIn($0.range), $0.summary) })

  /// A route's `match`.
  public static let match = TableShape(keys: [
    KeyShape("client", .stringOrList(nonEmptyList: true), "client names, or \"*\" for any authenticated client"),
    KeyShape("model", .stringOrList(nonEmptyList: true), "exact model names or globs with *"),
    KeyShape("key_prefix", .stringOrList(nonEmptyList: true), "prefixes of the presented key"),
    KeyShape("stream", .boolean, "whether the request streams"),
    KeyShape("tools", .boolean, "whether the request declares functions"),
    KeyShape("images", .boolean, "whether the request carries image parts"),
    KeyShape("header", .map(.string(nonEmpty: false)), "request headers and their exact values"),
    KeyShape("endpoint", .choiceOrList(Endpoint.allCases.map(\.rawValue), nonEmptyList: true), "the endpoints called"),
    KeyShape("front", .choice(Front.allCases.map(\.rawValue)), "the API the client speaks: gemini or openai"),
  ])

  /// `generation.PARAMETER = { min, max, default }`.
  public static let parameterRule = TableShape(keys: [
    KeyShape("min", .number, "a lower value is raised to this"),
    KeyShape("max", .number, "a higher value is lowered to this"),
    KeyShape("default", .number, "the value when the request sets none"),
  ])

  /// `generation.PARAMETER = { min, max, default }` for a parameter that counts (tokens, candidates).
  static let wholeNumberRule = TableShape(keys: [
    KeyShape("min", .integer, "a lower value is raised to this"),
    KeyShape("max", .integer, "a higher value is lowered to this"),
    KeyShape("default", .integer, "the value when the request sets none"),
  ])

  /// `generation`: its keys are the parameters; a bare number is shorthand for `{ default = N }`.
  public static let generation = TableShape(
    keys: GenerationParameter.allCases.map { parameter in
      let number: ValueShape = parameter.isInteger ? .integer : .number
      let rule = parameter.isInteger ? wholeNumberRule : parameterRule
      return KeyShape(
        parameter.rawValue, .either(number, .table(rule)),
        "\(parameter.geminiField): a default, or { min, max, default }")
    })

  /// A group of backends that is one step of a chain.
  public static let backendGroup = TableShape(keys: [
    KeyShape(
      "balance", .choice(Balance.allCases.map(\.rawValue)),
      "the order members are tried in: weighted (default) or least_in_flight"),
    KeyShape(
      "members", .either(.map(.integerIn(1...1_000_000)), .stringOrList(nonEmptyList: true)),
      "backend names with weights ({ a = 3, b = 1 }), or a list of equally weighted names"),
  ])

  /// A route's `retry`.
  public static let retry = TableShape(keys: [
    KeyShape("attempts", .integerIn(0...5), "extra tries of the same backend (default 1)"),
    KeyShape(
      "on", .choiceOrList(FallbackTrigger.retryable.map(\.rawValue), nonEmptyList: false),
      "the faults retried (default connect, 5xx, 429; a 429 only when the backend says Retry-After)"),
    KeyShape("max_wait", .duration, "a retry that would wait longer moves on at once (default 2s)"),
    KeyShape("backoff", .duration, "the first wait, doubled per retry, jittered (default 250ms)"),
  ])

  /// `[[routes]]`.
  public static let route = TableShape(keys: [
    KeyShape("name", .string(nonEmpty: true), "the route's name (default route-N)"),
    KeyShape("match", .table(match), "all given fields must hold; no match table matches every request"),
    KeyShape(
      "system_prompt", .keyedBy(systemPromptModes, value: .string(nonEmpty: false), exactlyOne: true),
      "prepend, append or replace the system instruction"),
    KeyShape("model", .string(nonEmpty: true), "rewrite the model name"),
    KeyShape(
      "backends", .namesOrTables(backendGroup, required: "members"),
      "the chain: backends tried in order; a { balance, members } group is one step"),
    KeyShape(
      "fallback_on", .choiceOrList(FallbackTrigger.allCases.map(\.rawValue), nonEmptyList: false),
      "what moves a request to the next backend"),
    KeyShape("retry", .table(retry), "try the same backend again before the chain moves on"),
    KeyShape(
      "continue_on_break", .boolean,
      "a text stream that breaks mid-answer is continued by the next backend (default true)"),
    KeyShape("generation", .table(generation), "clamps and defaults for generation parameters"),
    KeyShape("deny", .string(nonEmpty: true), "refuse with 403 and this message"),
  ])

  /// A test's `request`.
  public static let testRequest = TableShape(keys: [
    KeyShape("client", .string(nonEmpty: true), "evaluate as this client"),
    KeyShape("model", .string(nonEmpty: true), "the requested model"),
    KeyShape("key", .string(nonEmpty: true), "the presented key"),
    KeyShape("stream", .boolean, "whether the request streams"),
    KeyShape("tools", .boolean, "whether the request declares functions"),
    KeyShape("images", .boolean, "whether the request carries images"),
    KeyShape("headers", .map(.string(nonEmpty: false)), "request headers"),
    KeyShape("endpoint", .choice(Endpoint.allCases.map(\.rawValue)), "the endpoint called"),
    KeyShape("front", .choice(Front.allCases.map(\.rawValue)), "the API the client speaks (default gemini)"),
  ])

  /// A test's `expect`.
  public static let testExpectation = TableShape(keys: [
    KeyShape("route", .string(nonEmpty: true), "the route that must match"),
    KeyShape("model", .string(nonEmpty: true), "the model sent upstream"),
    KeyShape("backends", .stringOrList(nonEmptyList: false), "the chain"),
    KeyShape("deny", .boolean, "whether the request is refused"),
    KeyShape("status", .integer, "the status before any backend is called"),
  ])

  /// `[[tests]]`.
  public static let test = TableShape(keys: [
    KeyShape("name", .string(nonEmpty: true), "the test's name"),
    KeyShape("request", .table(testRequest), "the request to evaluate"),
    KeyShape("expect", .table(testExpectation), "what must hold"),
  ])

  /// The top level of a route file.
  public static let file = TableShape(keys: [
    KeyShape("version", .integer, "the route-language version (1)"),
    KeyShape("server", .table(server), "listen address, authentication, limits, request log"),
    KeyShape("backends", .map(.table(backend)), "[backends.NAME]: where requests go"),
    KeyShape("clients", .map(.table(client)), "[clients.NAME]: who may call, by key"),
    KeyShape("routes", .arrayOfTables(route), "[[routes]]: evaluated in order, first match wins"),
    KeyShape("tests", .arrayOfTables(test), "[[tests]]: checked by louter check"),
  ])
}

extension RouteFileShape {
  /// The JSON Schema (draft 2020-12) of a route file, decoded to JSON the way taplo does.
  public static func jsonSchema() -> JSONValue {
    var root = schema(of: file)
    root.insert(JSONMember("title", "louter route file"), at: 0)
    root.insert(JSONMember("$schema", "https://json-schema.org/draft/2020-12/schema"), at: 0)
    return .object(root)
  }

  static func schema(of table: TableShape) -> [JSONMember] {
    [
      JSONMember("type", "object"),
      JSONMember(
        "properties",
        .object(
          table.keys.map { key in
            JSONMember(key.name, .object([JSONMember("description", .string(key.summary))] + schema(of: key.value)))
          })),
      JSONMember("additionalProperties", false),
    ]
  }

  static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

  static func schema(of value: ValueShape) -> [JSONMember] {
    switch value {
    case .string(let nonEmpty):
      return [JSONMember("type", "string")] + (nonEmpty ? [JSONMember("minLength", 1)] : [])
    case .choice(let values):
      return [JSONMember("type", "string"), JSONMember("enum", strings(values))]
    case .boolean:
      return [JSONMember("type", "boolean")]
    case .integer:
      return [JSONMember("type", "integer")]
    case .integerIn(let range):
      return [
        JSONMember("type", "integer"), JSONMember("minimum", .int(Int64(range.lowerBound))),
        JSONMember("maximum", .int(Int64(range.upperBound))),
      ]
    case .number:
      return [JSONMember("type", "number")]
    case .stringOrList(let nonEmptyList):
      let item = JSONValue.object([JSONMember("type", "string"), JSONMember("minLength", 1)])
      var list = [JSONMember("type", "array"), JSONMember("items", item)]
      if nonEmptyList { list.append(JSONMember("minItems", 1)) }
      return [JSONMember("anyOf", [item, .object(list)])]
    case .choiceOrList(let values, let nonEmptyList):
      let item = JSONValue.object([JSONMember("type", "string"), JSONMember("enum", strings(values))])
      var list = [JSONMember("type", "array"), JSONMember("items", item)]
      if nonEmptyList { list.append(JSONMember("minItems", 1)) }
      return [JSONMember("anyOf", [item, .object(list)])]
    case .namesOrTables(let table, let required):
      let name = JSONValue.object([JSONMember("type", "string"), JSONMember("minLength", 1)])
      let element = JSONValue.object(schema(of: table) + [JSONMember("required", [.string(required)])])
      let list = JSONValue.object([
        JSONMember("type", "array"), JSONMember("items", .object([JSONMember("anyOf", [name, element])])),
      ])
      return [JSONMember("anyOf", [name, list])]
    case .duration:
      return [
        JSONMember("type", "string"), JSONMember("pattern", "^([0-9]+(ms|s|m|h))+$"),
        JSONMember("examples", ["250ms", "5s", "1m30s"]),
      ]
    case .size:
      return [
        JSONMember(
          "anyOf",
          [
            .object([JSONMember("type", "integer"), JSONMember("minimum", 0)]),
            .object([JSONMember("type", "string"), JSONMember("pattern", "^[0-9]+(B|KiB|MiB|GiB)?$")]),
          ])
      ]
    case .table(let table):
      return schema(of: table)
    case .map(let element):
      return [
        JSONMember("type", "object"), JSONMember("propertyNames", .object([JSONMember("minLength", 1)])),
        JSONMember("additionalProperties", .object(schema(of: element))),
      ]
    case .keyedBy(let keys, let element, let exactlyOne):
      var members = [
        JSONMember("type", "object"),
        JSONMember("properties", .object(keys.map { JSONMember($0, .object(schema(of: element))) })),
        JSONMember("additionalProperties", false),
      ]
      if exactlyOne { members += [JSONMember("minProperties", 1), JSONMember("maxProperties", 1)] }
      return members
    case .either(let first, let second):
      return [JSONMember("anyOf", [.object(schema(of: first)), .object(schema(of: second))])]
    case .arrayOfTables(let table):
      return [JSONMember("type", "array"), JSONMember("items", .object(schema(of: table)))]
    }
  }
}

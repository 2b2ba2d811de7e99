/// A decoded value together with the span of the source text it came from.
public struct Spanned<Value: Sendable>: Sendable {
  /// The decoded value.
  public var value: Value
  /// Where it was written.
  public var span: SourceSpan

  /// Pairs a value with its span.
  public init(_ value: Value, _ span: SourceSpan) {
    self.value = value
    self.span = span
  }
}

extension Spanned: Equatable where Value: Equatable {}

/// One route file, decoded into the route language with every field's span.
///
/// This is the model of what the operator wrote, not yet validated across
/// files: names may be undefined or duplicated; `RouteCompiler` checks that.
public struct RouteFileSyntax: Sendable {
  /// The file this came from.
  public var file: FileID
  /// `version = N`, if written.
  public var version: Spanned<Int>?
  /// The `[server]` table, if any.
  public var server: ServerSyntax?
  /// `[backends.NAME]` tables in source order.
  public var backends: [BackendSyntax] = []
  /// `[clients.NAME]` tables in source order.
  public var clients: [ClientSyntax] = []
  /// `[[routes]]` in source order.
  public var routes: [RouteSyntax] = []
  /// `[[tests]]` in source order.
  public var tests: [RouteTestSyntax] = []

  /// Creates an empty file model.
  public init(file: FileID) { self.file = file }
}

/// A duration written as `"250ms"`, `"5s"`, `"2m"` or `"1h"`, in milliseconds.
public struct DurationValue: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// Milliseconds.
  public var milliseconds: Int64

  /// Creates a duration.
  public init(milliseconds: Int64) { self.milliseconds = milliseconds }

  /// As a Swift `Duration`.
  public var duration: Duration { .milliseconds(milliseconds) }

  /// The shortest unit that writes it exactly (`"90s"`, `"250ms"`).
  public var description: String {
    if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
    if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
    if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
    return "\(milliseconds)ms"
  }

  public static func < (lhs: DurationValue, rhs: DurationValue) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// A string that may contain `${VAR}` references, resolved from the environment at serve time.
public struct TemplateString: Sendable, Hashable {
  /// One literal run or one variable reference.
  public enum Segment: Sendable, Hashable {
    case literal(String)
    /// `${NAME}`: required.
    case variable(String)
    /// `${NAME:-fallback}`: the fallback (possibly empty) when NAME is unset.
    case optionalVariable(String, fallback: String)
  }

  /// The segments in order.
  public var segments: [Segment]

  /// Creates a template from segments.
  public init(segments: [Segment]) { self.segments = segments }

  /// The names of the variables it references.
  public var variables: [String] {
    segments.compactMap { segment in
      switch segment {
      case .literal: nil
      case .variable(let name), .optionalVariable(let name, _): name
      }
    }
  }

  /// True when the whole string is written out with no variable.
  public var isLiteral: Bool { variables.isEmpty }

  /// The string with every variable replaced, or the first missing variable's name.
  public func resolve(_ environment: [String: String]) -> Result<String, MissingVariable> {
    var out = ""
    for segment in segments {
      switch segment {
      case .literal(let text): out += text
      case .variable(let name):
        guard let value = environment[name] else { return .failure(MissingVariable(name: name)) }
        out += value
      case .optionalVariable(let name, let fallback):
        out += environment[name] ?? fallback
      }
    }
    return .success(out)
  }

  /// A variable a template needs that the environment does not have.
  public struct MissingVariable: Error, Sendable, Hashable {
    /// The variable's name.
    public var name: String
  }
}

/// The `[server]` table.
public struct ServerSyntax: Sendable {
  /// The `[server]` header.
  public var span: SourceSpan
  /// `listen = "host:port"`.
  public var listen: Spanned<ListenAddress>?
  /// `auth = "required" | "none"`.
  public var auth: Spanned<AuthMode>?
  /// `max_request_body = "20MiB"`, in bytes.
  public var maxRequestBody: Spanned<Int>?
  /// `request_log = "stdout" | "off" | path`.
  public var requestLog: Spanned<RequestLogTarget>?
  /// `header_timeout = "10s"`: whole-head deadline from its first byte.
  public var headerTimeout: Spanned<DurationValue>?
  /// `body_timeout = "60s"`: whole-body deadline from the end of the head.
  public var bodyTimeout: Spanned<DurationValue>?
  /// `idle_timeout = "60s"`: how long a keep-alive connection may wait for its next request.
  public var idleTimeout: Spanned<DurationValue>?
  /// `workers = 4`: event loops; absent means one per core.
  public var workers: Spanned<Int>?
  /// `idle_poll = true`: an idle event loop polls before it sleeps.
  public var idlePoll: Spanned<Bool>?
  /// `admin_keys = ["sha256:..."]`: lowercase hex digests of the keys that may read `/metrics`.
  public var adminKeyHashes: [Spanned<String>] = []

  /// Creates an empty server table at `span`.
  public init(span: SourceSpan) { self.span = span }
}

/// A host and port to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
  /// Host name or address (IPv6 without brackets).
  public var host: String
  /// TCP port.
  public var port: Int

  /// Creates an address.
  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// `host:port`, IPv6 in brackets.
  public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

  /// Parses `host:port` or `[v6]:port`; nil when malformed.
  public static func parse(_ text: String) -> ListenAddress? {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]") else { return nil }
      host = text[text.index(after: text.startIndex)..<close]
      let rest = text[text.index(after: close)...]
      guard rest.hasPrefix(":") else { return nil }
      portText = rest.dropFirst()
    } else {
      guard let colon = text.lastIndex(of: ":") else { return nil }
      host = text[..<colon]
      portText = text[text.index(after: colon)...]
      if host.contains(":") { return nil }
    }
    guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
    return ListenAddress(host: String(host), port: port)
  }
}

/// Whether clients must present a known key.
public enum AuthMode: String, Sendable, CaseIterable {
  case required
  case none
}

/// Where the JSON request log goes.
public enum RequestLogTarget: Sendable, Hashable {
  case stdout
  case off
  case file(String)
}

/// The wire protocol a backend speaks.
public enum BackendProtocol: String, Sendable, CaseIterable {
  /// OpenAI chat completions: Gemini requests are translated.
  case openai
  /// The Gemini API: requests go through as Gemini JSON.
  case gemini
  /// Local, no network: echoes the last user text.
  case echo
}

/// Variants of the OpenAI protocol.
public enum BackendFlavor: String, Sendable, CaseIterable {
  /// Plain OpenAI-compatible: Bearer auth, `{url}/chat/completions`.
  case openai
  /// Azure OpenAI classic: `api-key` header, `/openai/deployments/{model}/...?api-version=`.
  case azure
}

/// A `[backends.NAME]` table.
public struct BackendSyntax: Sendable {
  /// The name (the span is the NAME in the header).
  public var name: Spanned<String>
  /// `protocol`.
  public var protocolName: Spanned<BackendProtocol>?
  /// `url`.
  public var url: Spanned<String>?
  /// `api_key`, possibly with `${VAR}`.
  public var apiKey: Spanned<TemplateString>?
  /// `flavor`.
  public var flavor: Spanned<BackendFlavor>?
  /// `api_version`.
  public var apiVersion: Spanned<String>?
  /// `headers = { name = "value" }`, values may hold `${VAR}`.
  public var headers: [(name: Spanned<String>, value: Spanned<TemplateString>)] = []
  /// `connect_timeout`.
  public var connectTimeout: Spanned<DurationValue>?
  /// `first_byte_timeout`.
  public var firstByteTimeout: Spanned<DurationValue>?
  /// `stream_idle_timeout`.
  public var streamIdleTimeout: Spanned<DurationValue>?
  /// `timeout`, the whole request.
  public var timeout: Spanned<DurationValue>?
  /// `max_concurrency`.
  public var maxConcurrency: Spanned<Int>?
  /// `forward_key`.
  public var forwardKey: Spanned<Bool>?
  /// `max_tokens_field = "max_tokens" | "max_completion_tokens"` (openai only).
  public var maxTokensField: Spanned<String>?
  /// `stream_usage = false` for backends that reject `stream_options` (openai only).
  public var streamUsage: Spanned<Bool>?
  /// `pace = "1s"`: the echo backend streams one word per interval (echo only).
  public var pace: Spanned<DurationValue>?
  /// `models = [...]`: the models this backend serves, for `GET models` (optional).
  public var models: [ModelEntrySyntax] = []

  /// Creates a backend with only its name.
  public init(name: Spanned<String>) { self.name = name }
}

/// One element of a backend's `models`: `"name"`, or `{ name = "...", input_tokens = N, output_tokens = N }`.
///
/// A limit left out takes the backend protocol's default when the route table is compiled.
public struct ModelEntrySyntax: Sendable {
  /// The model name, as clients call it.
  public var name: Spanned<String>
  /// `input_tokens`: what `GET models/{m}` reports as `inputTokenLimit`.
  public var inputTokens: Spanned<Int>?
  /// `output_tokens`: what `GET models/{m}` reports as `outputTokenLimit`.
  public var outputTokens: Spanned<Int>?

  /// Creates an entry; limits not given take their defaults.
  public init(name: Spanned<String>, inputTokens: Spanned<Int>? = nil, outputTokens: Spanned<Int>? = nil) {
    self.name = name
    self.inputTokens = inputTokens
    self.outputTokens = outputTokens
  }

  /// The limits a route file may give: at least one token, and the Gemini API's `Model` carries them as int32.
  public static let limitRange = 1...Int(Int32.max)
}

/// A `[clients.NAME]` table.
public struct ClientSyntax: Sendable {
  /// The name (the span is the NAME in the header).
  public var name: Spanned<String>
  /// `keys = ["sha256:..."]`: lowercase hex digests.
  public var keyHashes: [Spanned<String>] = []
  /// `key_env = ["VAR"]`: keys read from the environment at serve time.
  public var keyEnvironment: [Spanned<String>] = []
  /// `limits = { requests_per_minute = N, ... }`: each limit as written, in source order; nil when absent.
  public var limits: Spanned<[(kind: Spanned<ClientLimitKind>, value: Spanned<Int>)]>?

  /// Creates a client with only its name.
  public init(name: Spanned<String>) { self.name = name }
}

/// A fixed window a client limit counts over, aligned to UTC (minutes, hours, and days from 00:00 UTC).
public enum LimitWindow: String, Sendable, CaseIterable, Hashable {
  case minute
  case hour
  case day

  /// Its length in milliseconds.
  public var milliseconds: Int64 {
    switch self {
    case .minute: 60_000
    case .hour: 3_600_000
    case .day: 86_400_000
    }
  }
}

/// One key of a client's `limits` table: what it counts and over which window.
public enum ClientLimitKind: String, Sendable, CaseIterable, Hashable, Comparable {
  case requestsPerMinute = "requests_per_minute"
  case requestsPerHour = "requests_per_hour"
  case requestsPerDay = "requests_per_day"
  case inputTokensPerDay = "input_tokens_per_day"
  case outputTokensPerDay = "output_tokens_per_day"
  /// Streaming requests in flight at once; no window.
  case concurrentStreams = "concurrent_streams"

  /// What a limit counts.
  public enum Quantity: Sendable, Hashable {
    /// Forwarded requests, counted when admitted.
    case requests
    /// Input tokens, counted when a request ends.
    case inputTokens
    /// Output tokens, counted when a request ends.
    case outputTokens
    /// Streams in flight.
    case streams
  }

  /// What it counts.
  public var quantity: Quantity {
    switch self {
    case .requestsPerMinute, .requestsPerHour, .requestsPerDay: .requests
    case .inputTokensPerDay: .inputTokens
    case .outputTokensPerDay: .outputTokens
    case .concurrentStreams: .streams
    }
  }

  /// The window it counts over; nil for `concurrent_streams`, which counts what is in flight.
  public var window: LimitWindow? {
    switch self {
    case .requestsPerMinute: .minute
    case .requestsPerHour: .hour
    case .requestsPerDay, .inputTokensPerDay, .outputTokensPerDay: .day
    case .concurrentStreams: nil
    }
  }

  /// The values a route file may give: at least one, and small enough that no counter can overflow.
  public var range: ClosedRange<Int> {
    switch self {
    case .requestsPerMinute, .requestsPerHour, .requestsPerDay: 1...1_000_000_000
    case .inputTokensPerDay, .outputTokensPerDay: 1...1_000_000_000_000
    case .concurrentStreams: 1...100_000
    }
  }

  /// What it limits, for `louter schema` and `louter explain`.
  public var summary: String {
    switch self {
    case .requestsPerMinute: "forwarded requests per minute (UTC-aligned fixed window)"
    case .requestsPerHour: "forwarded requests per hour (UTC-aligned fixed window)"
    case .requestsPerDay: "forwarded requests per day (resets at 00:00 UTC)"
    case .inputTokensPerDay: "input tokens per day; requests are admitted while the day's total is below it"
    case .outputTokensPerDay: "output tokens per day; requests are admitted while the day's total is below it"
    case .concurrentStreams: "streaming requests in flight at once"
    }
  }

  /// Declaration order: the order `explain` and messages list limits in.
  public static func < (lhs: ClientLimitKind, rhs: ClientLimitKind) -> Bool {
    let order = allCases
    return (order.firstIndex(of: lhs) ?? 0) < (order.firstIndex(of: rhs) ?? 0)
  }
}

/// A client's limits after validation: a value for each limit the route file gives; an absent one does not apply.
public struct ClientLimits: Sendable, Hashable {
  /// The limits given, by kind.
  public let values: [ClientLimitKind: Int]
  /// The same, in declaration order: sorted once, read at every admission.
  public let ordered: [(kind: ClientLimitKind, value: Int)]

  /// Creates a set of limits; an empty one limits nothing.
  public init(_ values: [ClientLimitKind: Int] = [:]) {
    self.values = values
    self.ordered = values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  public static func == (lhs: ClientLimits, rhs: ClientLimits) -> Bool { lhs.values == rhs.values }

  public func hash(into hasher: inout Hasher) { hasher.combine(values) }

  /// The value of `kind`, nil when it does not apply.
  public subscript(kind: ClientLimitKind) -> Int? { values[kind] }

  /// True when no limit applies.
  public var isEmpty: Bool { values.isEmpty }
}

/// The request endpoints a route can match on.
public enum Endpoint: String, Sendable, CaseIterable, Hashable {
  case generate
  case stream
  case countTokens = "count_tokens"
  case embed
  case listModels = "list_models"
}

/// The API a client speaks, told by the front that answered it (`match.front`).
public enum Front: String, Sendable, CaseIterable, Hashable {
  /// The Gemini API (`/v1beta/models/...`).
  case gemini
  /// OpenAI's Chat Completions API (`/v1/chat/completions`, `/v1/models`).
  case openai
}

/// What makes a backend hop count as failed so the next backend is tried.
public enum FallbackTrigger: String, Sendable, CaseIterable, Hashable {
  case connect
  case timeout
  case rateLimited = "429"
  case serverError = "5xx"
  /// The backend said the input exceeds its context window (OpenAI's `context_length_exceeded`, Gemini's
  /// "input token count exceeds the maximum"): off unless a route asks for it, since a 400 is otherwise the
  /// caller's own.
  case contextLength = "context_length"

  /// What a route falls back on when it does not say: every fault but a context-length refusal.
  public static let defaultFallbackOn: Set<FallbackTrigger> = [.connect, .timeout, .rateLimited, .serverError]

  /// What `retry.on` may name: a context-length refusal would fail the same way again.
  public static let retryable: [FallbackTrigger] = [.connect, .timeout, .rateLimited, .serverError]
}

/// How a chain step that is a group of backends picks the order its members are tried in.
public enum Balance: String, Sendable, CaseIterable, Hashable {
  /// At random, each member as likely as its weight says.
  case weighted
  /// The member with the fewest requests in flight first (ties at random by weight).
  case leastInFlight = "least_in_flight"
}

/// `{ balance = "weighted", members = { a = 3, b = 1 } }` (or `members = ["a", "b"]`) in a chain.
public struct BackendGroupSyntax: Sendable {
  /// The table.
  public var span: SourceSpan
  /// Which names of the route's `backends` are the members.
  public var members: Range<Int>
  /// The members' weights, in member order (1 each for a list).
  public var weights: [Int]
  /// `balance`.
  public var balance: Spanned<Balance>?

  /// Creates a group.
  public init(span: SourceSpan, members: Range<Int>, weights: [Int], balance: Spanned<Balance>?) {
    self.span = span
    self.members = members
    self.weights = weights
    self.balance = balance
  }
}

/// `retry = { attempts, on, max_wait, backoff }` on a route, as written.
public struct RetrySyntax: Sendable {
  /// The `retry` table.
  public var span: SourceSpan
  /// `attempts`: extra tries of the same backend.
  public var attempts: Spanned<Int>?
  /// `on`: the faults that are retried.
  public var on: Spanned<[Spanned<FallbackTrigger>]>?
  /// `max_wait`: the longest wait before a retry.
  public var maxWait: Spanned<DurationValue>?
  /// `backoff`: the first backoff, doubled for each further retry.
  public var backoff: Spanned<DurationValue>?

  /// Creates an empty retry table at `span`.
  public init(span: SourceSpan) { self.span = span }
}

/// `system_prompt = { prepend | append | replace = "..." }`.
public enum SystemPromptAction: Sendable, Hashable {
  case prepend(String)
  case append(String)
  case replace(String)

  /// The text to inject.
  public var text: String {
    switch self {
    case .prepend(let text), .append(let text), .replace(let text): text
    }
  }

  /// `prepend`, `append` or `replace`.
  public var mode: String {
    switch self {
    case .prepend: "prepend"
    case .append: "append"
    case .replace: "replace"
    }
  }
}

/// A generation parameter's clamp and default: `{ min = .., max = .., default = .. }`.
public struct ParameterRule: Sendable, Hashable {
  /// Lower bound a request's value is raised to.
  public var min: Double?
  /// Upper bound a request's value is lowered to.
  public var max: Double?
  /// The value used when the request sets none.
  public var defaultValue: Double?

  /// Creates a rule.
  public init(min: Double? = nil, max: Double? = nil, defaultValue: Double? = nil) {
    self.min = min
    self.max = max
    self.defaultValue = defaultValue
  }
}

/// The generation parameters a route can clamp or default, by their route-file names.
public enum GenerationParameter: String, Sendable, CaseIterable, Hashable {
  case temperature
  case topP = "top_p"
  case topK = "top_k"
  case maxOutputTokens = "max_output_tokens"
  case candidateCount = "candidate_count"
  case presencePenalty = "presence_penalty"
  case frequencyPenalty = "frequency_penalty"

  /// The Gemini `generationConfig` field it acts on.
  public var geminiField: String {
    switch self {
    case .temperature: "temperature"
    case .topP: "topP"
    case .topK: "topK"
    case .maxOutputTokens: "maxOutputTokens"
    case .candidateCount: "candidateCount"
    case .presencePenalty: "presencePenalty"
    case .frequencyPenalty: "frequencyPenalty"
    }
  }

  /// True for parameters that take whole numbers.
  public var isInteger: Bool {
    switch self {
    case .topK, .maxOutputTokens, .candidateCount: true
    default: false
    }
  }
}

/// The `match = { ... }` table of a route; every given field must hold.
public struct MatchSyntax: Sendable {
  /// The whole match table.
  public var span: SourceSpan
  /// `client`: names, or `"*"` for any authenticated client.
  public var clients: [Spanned<String>] = []
  /// `model`: exact names or globs with `*`.
  public var models: [Spanned<String>] = []
  /// `key_prefix`.
  public var keyPrefixes: [Spanned<String>] = []
  /// `stream`.
  public var stream: Spanned<Bool>?
  /// `tools`.
  public var tools: Spanned<Bool>?
  /// `images`.
  public var images: Spanned<Bool>?
  /// `header = { name = "value" }` (names lowercased).
  public var headers: [(name: Spanned<String>, value: Spanned<String>)] = []
  /// `endpoint`.
  public var endpoints: [Spanned<Endpoint>] = []
  /// `front`.
  public var front: Spanned<Front>?

  /// Creates an empty match at `span`.
  public init(span: SourceSpan) { self.span = span }
}

/// A `[[routes]]` element.
public struct RouteSyntax: Sendable {
  /// The `[[routes]]` header.
  public var span: SourceSpan
  /// `name`, if given.
  public var name: Spanned<String>?
  /// `match`; absent means the route matches everything.
  public var match: MatchSyntax?
  /// `system_prompt`.
  public var systemPrompt: Spanned<SystemPromptAction>?
  /// `model`: the rewritten model name.
  public var model: Spanned<String>?
  /// `backends`: the chain, groups flattened in place; the outer span is the whole array.
  public var backends: Spanned<[Spanned<String>]>?
  /// The groups of `backends` (`{ balance, members }`), each over consecutive names of `backends`.
  public var backendGroups: [BackendGroupSyntax] = []
  /// `fallback_on`.
  public var fallbackOn: Spanned<[Spanned<FallbackTrigger>]>?
  /// `retry`.
  public var retry: RetrySyntax?
  /// `continue_on_break`.
  public var continueOnBreak: Spanned<Bool>?
  /// `generation = { parameter = { min, max, default } }`.
  public var generation: [(parameter: Spanned<GenerationParameter>, rule: Spanned<ParameterRule>)] = []
  /// `deny = "message"`.
  public var deny: Spanned<String>?

  /// Creates an empty route at `span`.
  public init(span: SourceSpan) { self.span = span }
}

/// The request side of a `[[tests]]` case.
public struct TestRequestSyntax: Sendable {
  /// The `request` table.
  public var span: SourceSpan
  /// `client`: a client name (the key is then taken as that client's).
  public var client: Spanned<String>?
  /// `model`.
  public var model: Spanned<String>?
  /// `key`: the presented key (only its prefix matters for matching).
  public var key: Spanned<String>?
  /// `stream`, `tools`, `images`.
  public var stream: Spanned<Bool>?
  /// Whether the request declares tools.
  public var tools: Spanned<Bool>?
  /// Whether the request carries images.
  public var images: Spanned<Bool>?
  /// `headers = { name = "value" }`.
  public var headers: [(name: Spanned<String>, value: Spanned<String>)] = []
  /// `endpoint`.
  public var endpoint: Spanned<Endpoint>?
  /// `front`.
  public var front: Spanned<Front>?

  /// Creates an empty request at `span`.
  public init(span: SourceSpan) { self.span = span }
}

/// The expectation side of a `[[tests]]` case.
public struct TestExpectationSyntax: Sendable {
  /// The `expect` table.
  public var span: SourceSpan
  /// `route`: the expected route name.
  public var route: Spanned<String>?
  /// `model`: the expected rewritten model.
  public var model: Spanned<String>?
  /// `backends`: the expected chain.
  public var backends: Spanned<[String]>?
  /// `deny = true`: the request is denied; `false`: it is not.
  public var deny: Spanned<Bool>?
  /// `status`: the HTTP status the request gets before any backend is called (403, 404, 401).
  public var status: Spanned<Int>?

  /// Creates an empty expectation at `span`.
  public init(span: SourceSpan) { self.span = span }
}

/// A `[[tests]]` element.
public struct RouteTestSyntax: Sendable {
  /// The `[[tests]]` header.
  public var span: SourceSpan
  /// `name`.
  public var name: Spanned<String>?
  /// `request`.
  public var request: TestRequestSyntax?
  /// `expect`.
  public var expect: TestExpectationSyntax?

  /// Creates an empty test at `span`.
  public init(span: SourceSpan) { self.span = span }
}

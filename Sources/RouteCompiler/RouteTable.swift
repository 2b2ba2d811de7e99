public import RouteSpec

/// A backend after validation, with `${VAR}`s resolved (at serve time) and defaults applied.
public struct CompiledBackend: Sendable {
  /// The backend's name.
  public let name: String
  /// Its wire protocol.
  public let protocolName: BackendProtocol
  /// Base URL (nil for echo).
  public let url: String?
  /// The key louter sends upstream; nil when none or not resolvable (check mode).
  public let apiKey: String?
  /// True when the route file configured an `api_key` (for redaction in dumps).
  public let hasAPIKey: Bool
  /// OpenAI or Azure.
  public let flavor: BackendFlavor
  /// Azure `api-version`.
  public let apiVersion: String?
  /// Extra headers sent upstream, resolved.
  public let headers: [(name: String, value: String)]
  /// Connect deadline.
  public let connectTimeout: DurationValue
  /// Deadline for the response head and first token.
  public let firstByteTimeout: DurationValue
  /// Longest gap between two stream chunks.
  public let streamIdleTimeout: DurationValue
  /// Whole-request deadline.
  public let timeout: DurationValue
  /// In-flight requests before the backend counts as busy.
  public let maxConcurrency: Int
  /// Send the caller's own key upstream instead of `apiKey`.
  public let forwardKey: Bool
  /// `max_tokens` or `max_completion_tokens` (openai).
  public let maxTokensField: String
  /// Ask for `stream_options.include_usage` (openai).
  public let streamUsage: Bool
  /// The echo backend's wait before each streamed word after the first (`pace`); nil: all at once.
  public let pace: DurationValue?
  /// Models this backend lists for `GET models`, with their limits (defaults applied), as written.
  public let models: [BackendModel]
  /// Where it was defined.
  public let span: SourceSpan
}

/// The token limits `GET models/{m}` reports for a model (`inputTokenLimit`, `outputTokenLimit`).
public struct TokenLimits: Sendable, Hashable {
  /// Tokens a prompt may hold.
  public let input: Int
  /// Tokens an answer may hold.
  public let output: Int

  /// Creates limits.
  public init(input: Int, output: Int) {
    self.input = input
    self.output = output
  }
}

/// A model a backend lists in `models`.
public struct BackendModel: Sendable, Hashable {
  /// The name clients call it by.
  public let name: String
  /// Its limits: as written, or the backend protocol's defaults.
  public let limits: TokenLimits

  /// Creates an entry.
  public init(name: String, limits: TokenLimits) {
    self.name = name
    self.limits = limits
  }
}

/// A client after validation: its name, the SHA-256 digests of its keys and its limits.
public struct CompiledClient: Sendable {
  /// The client's name, what `match.client` sees.
  public let name: String
  /// Lowercase hex SHA-256 of each accepted key.
  public let keyHashes: [String]
  /// `limits`: empty when the client has none.
  public let limits: ClientLimits
  /// Where it was defined.
  public let span: SourceSpan
}

/// A model constraint: an exact name or a glob with `*`.
public enum ModelPattern: Sendable, Hashable, CustomStringConvertible {
  case exact(String)
  /// The literal pieces between the stars; `anchoredStart`/`End` say whether the glob starts/ends with a literal.
  case glob(pieces: [String], text: String)

  /// Builds a pattern from its route-file text.
  public init(_ text: String) {
    if text.contains("*") {
      self = .glob(pieces: text.split(separator: "*", omittingEmptySubsequences: false).map(String.init), text: text)
    } else {
      self = .exact(text)
    }
  }

  /// The text as written.
  public var description: String {
    switch self {
    case .exact(let text), .glob(_, let text): text
    }
  }

  /// The literal text before the first star (the whole name for an exact pattern).
  public var literalPrefix: String {
    switch self {
    case .exact(let text): text
    case .glob(let pieces, _): pieces.first ?? ""
    }
  }

  /// The literal text after the last star (the whole name for an exact pattern).
  public var literalSuffix: String {
    switch self {
    case .exact(let text): text
    case .glob(let pieces, _): pieces.last ?? ""
    }
  }

  /// Whether `model` matches.
  public func matches(_ model: String) -> Bool {
    switch self {
    case .exact(let text):
      return text == model
    case .glob(let pieces, _):
      return Self.globMatches(pieces: pieces, model)
    }
  }

  private static func globMatches(pieces: [String], _ model: String) -> Bool {
    var bytes = model.utf8[...]
    guard let first = pieces.first, let last = pieces.last else { return true }
    guard bytes.starts(with: first.utf8) else { return false }
    bytes = bytes.dropFirst(first.utf8.count)
    if pieces.count == 1 { return bytes.isEmpty }
    // The last piece must end the name; the middle ones are found greedily left to right.
    guard bytes.count >= last.utf8.count, bytes.suffix(last.utf8.count).elementsEqual(last.utf8) else { return false }
    bytes = bytes.dropLast(last.utf8.count)
    for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
      guard let range = bytes.firstRange(of: piece.utf8) else { return false }
      bytes = bytes[range.upperBound...]
    }
    return true
  }

  /// True when every name this pattern matches, `other` also matches (conservative: false when unsure).
  public func isCovered(by other: ModelPattern) -> Bool {
    switch (self, other) {
    case (.exact(let name), _):
      return other.matches(name)
    case (.glob(_, let text), .exact):
      _ = text
      return false
    case (.glob(let pieces, let text), .glob(let otherPieces, let otherText)):
      if text == otherText { return true }
      // `P*S` covers any glob whose own literal prefix starts with P and whose suffix ends with S,
      // when the covering glob has no middle pieces.
      guard otherPieces.count == 2 else { return false }
      let prefix = pieces.first ?? ""
      let suffix = pieces.count > 1 ? (pieces.last ?? "") : ""
      return prefix.hasPrefix(otherPieces[0]) && suffix.hasSuffix(otherPieces[1])
    }
  }
}

/// Which clients a route accepts.
public enum ClientConstraint: Sendable, Hashable {
  /// Any request, authenticated or not.
  case any
  /// Any authenticated client (`"*"`).
  case anyAuthenticated
  /// One of these clients (indices into `RouteTable.clients`).
  case clients([Int])
}

/// A route's match, resolved: every given field must hold.
public struct CompiledMatch: Sendable {
  /// Client constraint.
  public let clients: ClientConstraint
  /// Model patterns; empty means any model.
  public let models: [ModelPattern]
  /// Key prefixes; empty means any key.
  public let keyPrefixes: [String]
  /// Required stream flag.
  public let stream: Bool?
  /// Required tools flag.
  public let tools: Bool?
  /// Required images flag.
  public let images: Bool?
  /// Required headers (lowercase name, exact value).
  public let headers: [(name: String, value: String)]
  /// Endpoints; empty means any.
  public let endpoints: [Endpoint]
  /// Required front; nil means either.
  public let front: Front?

  /// True when the match has no constraint at all: it matches every request.
  public var isCatchAll: Bool {
    clients == .any && models.isEmpty && keyPrefixes.isEmpty && stream == nil && tools == nil && images == nil
      && headers.isEmpty && endpoints.isEmpty && front == nil
  }
}

/// A generation parameter rule resolved for the runtime.
public struct GenerationRule: Sendable, Hashable {
  /// The parameter.
  public let parameter: GenerationParameter
  /// Its clamp and default.
  public let rule: ParameterRule

  /// Creates a rule.
  public init(parameter: GenerationParameter, rule: ParameterRule) {
    self.parameter = parameter
    self.rule = rule
  }
}

/// What a matched route does.
public enum RouteAction: Sendable {
  /// Refuse with 403 and this message.
  case deny(String)
  /// Send to the chain.
  case forward(ForwardAction)
}

/// The forwarding part of a route.
public struct ForwardAction: Sendable {
  /// Backend indices into `RouteTable.backends`, in fallback order.
  public let chain: [Int]
  /// The rewritten model name, if any.
  public let model: String?
  /// The system-prompt action, if any.
  public let systemPrompt: SystemPromptAction?
  /// Generation clamps and defaults.
  public let generation: [GenerationRule]
  /// What makes a hop fall through to the next backend.
  public let fallbackOn: Set<FallbackTrigger>
  /// When the same backend is tried again first.
  public let retry: RetryRule
  /// Whether a text stream that breaks after bytes reached the client is continued by the next backend.
  public let continueOnBreak: Bool
  /// Steps of `chain` that are groups: their members' order is picked per request.
  public let groups: [ChainGroup]
}

/// A step of a chain that is a group of backends: consecutive positions of the chain whose order is picked
/// per request (by weight, or fewest in flight first); when every member fails the chain goes on.
public struct ChainGroup: Sendable, Hashable {
  /// The positions in the chain the members hold, in the order written.
  public let positions: Range<Int>
  /// The members' weights, in the same order.
  public let weights: [Int]
  /// How the order is picked.
  public let balance: Balance

  /// Creates a group.
  public init(positions: Range<Int>, weights: [Int], balance: Balance) {
    self.positions = positions
    self.weights = weights
    self.balance = balance
  }

  /// `{"balance": …, "members": {name: weight}}` for `dump` and `explain`; `chain` is the route's.
  public func json(chain: [Int], backends: [CompiledBackend]) -> JSONValue {
    .object([
      JSONMember("balance", .string(balance.rawValue)),
      JSONMember(
        "members",
        .object(
          zip(positions, weights).compactMap { position, weight in
            chain.indices.contains(position) && backends.indices.contains(chain[position])
              ? JSONMember(backends[chain[position]].name, .int(Int64(weight))) : nil
          })),
    ])
  }
}

/// A route's `retry` with defaults applied: which faults send a request to the same backend again, how
/// often, and how long louter may wait before it does.
public struct RetryRule: Sendable, Hashable {
  /// Extra tries of one backend (0: never retry).
  public let attempts: Int
  /// The faults retried.
  public let on: Set<FallbackTrigger>
  /// The longest single wait: a longer one (a far `Retry-After`) moves on at once.
  public let maxWait: DurationValue
  /// The first backoff, doubled per further retry and jittered.
  public let backoff: DurationValue

  /// Creates a rule.
  public init(attempts: Int, on: Set<FallbackTrigger>, maxWait: DurationValue, backoff: DurationValue) {
    self.attempts = attempts
    self.on = on
    self.maxWait = maxWait
    self.backoff = backoff
  }

  /// One line for `explain` and `diff`: `off`, or `1 on connect, 429, 5xx; max_wait 2s; backoff 250ms`.
  public var summary: String {
    guard attempts > 0, !on.isEmpty else { return "off" }
    let triggers = FallbackTrigger.allCases.filter(on.contains).map(\.rawValue).joined(separator: ", ")
    return "\(attempts) on \(triggers); max_wait \(maxWait); backoff \(backoff)"
  }

  /// As JSON for `explain`, `diff` and the table dump.
  public var json: JSONValue {
    .object([
      JSONMember("attempts", .int(Int64(attempts))),
      JSONMember("on", .array(FallbackTrigger.allCases.filter(on.contains).map { .string($0.rawValue) })),
      JSONMember("max_wait", .string(maxWait.description)), JSONMember("backoff", .string(backoff.description)),
    ])
  }

  /// A route without `retry`: the chain moves on at once, as the route file reads.
  public static let never = RetryRule(
    attempts: 0, on: [], maxWait: DurationValue(milliseconds: 0), backoff: DurationValue(milliseconds: 0))
}

/// A route after validation.
public struct CompiledRoute: Sendable {
  /// The route's name, given or `route-N` (1-based position across all files).
  public let name: String
  /// True when the name was written in the file.
  public let hasExplicitName: Bool
  /// Its match.
  public let match: CompiledMatch
  /// What it does.
  public let action: RouteAction
  /// The `[[routes]]` header.
  public let span: SourceSpan
}

/// Server settings with defaults applied.
public struct ServerSettings: Sendable {
  /// Listen address.
  public let listen: ListenAddress
  /// Whether a known key is required.
  public let auth: AuthMode
  /// Largest request body accepted.
  public let maxRequestBody: Int
  /// Request log target.
  public let requestLog: RequestLogTarget
  /// Whole-head deadline for a request, from its first byte.
  public let headerTimeout: DurationValue
  /// Whole-body deadline for a request, from the end of its head.
  public let bodyTimeout: DurationValue
  /// How long a keep-alive connection may wait for its next request.
  public let idleTimeout: DurationValue
  /// Event loops to run; nil means one per core (decided where louter runs, not where it compiles).
  public let workers: Int?
  /// Whether an idle event loop polls for events before it sleeps (`idle_poll`; see `PollWindow` in
  /// RouterRuntime).
  public let idlePoll: Bool
  /// Lowercase hex SHA-256 of each key that may read `/metrics`; empty: none (then only loopback may).
  public let adminKeyHashes: [String]

  /// True when `key` is one of the admin keys.
  public func isAdminKey(_ key: String) -> Bool {
    !adminKeyHashes.isEmpty && adminKeyHashes.contains(SHA256.hexDigest(key))
  }
}

/// The immutable, validated route table that the runtime reads; replaced whole on reload.
public struct RouteTable: Sendable {
  /// Backends in definition order.
  public let backends: [CompiledBackend]
  /// Clients in definition order.
  public let clients: [CompiledClient]
  /// Routes in evaluation order.
  public let routes: [CompiledRoute]
  /// Server settings.
  public let server: ServerSettings
  /// Index used by `plan(for:)`.
  let index: RouteIndex
  /// Key digest → client index.
  let clientByKeyHash: [String: Int]
  /// Backend name → index.
  public let backendIndex: [String: Int]
  /// Client name → index.
  public let clientIndex: [String: Int]
  /// The (lowercase) header names some route matches on, each once: all the runtime needs to know of a
  /// request's headers to decide its route.
  public let matchedHeaderNames: [String]

  /// The client a presented key belongs to, if any.
  public func client(forKey key: String) -> Int? {
    clientByKeyHash[SHA256.hexDigest(key)]
  }
}

import RouteCompiler
public import RouteSpec

/// Everything measured about one request: printed by `--verbose`, written to the request log.
public struct RequestRecord: Sendable {
  /// One backend hop and how it ended.
  public struct Hop: Sendable, Equatable {
    /// Backend name.
    public var backend: String
    /// `ok`, or why the hop fell through (`503`, `connect`, `timeout`, `busy`, ...).
    public var outcome: String

    /// Creates a hop record.
    public init(backend: String, outcome: String) {
      self.backend = backend
      self.outcome = outcome
    }
  }

  /// The `x-request-id`.
  public var id: String
  /// Client name, or `-`.
  public var client: String = "-"
  /// Route name, or `-`.
  public var route: String = "-"
  /// Hops in order: only backends louter really tried (empty when the front answered by itself).
  public var hops: [Hop] = []
  /// `openai` (translated), `gemini` (passthrough), `echo`, or `local` (answered by louter itself).
  public var mode: String = "local"
  /// The API the client spoke.
  public var front: Front = .gemini
  /// The endpoint (`generateContent`, `chat.completions`, ...).
  public var method: String = "-"
  /// The requested model.
  public var model: String = "-"
  /// The model sent upstream.
  public var upstreamModel: String = "-"
  /// HTTP status sent to the client.
  public var status: Int = 0
  /// Time to first token reaching the client, in seconds; nil when no token was sent.
  public var timeToFirstToken: Double?
  /// Total time, in seconds.
  public var total: Double = 0
  /// Prompt tokens.
  public var inputTokens: Int?
  /// Output tokens.
  public var outputTokens: Int?
  /// True when the token counts are louter's estimate (the backend sent no usage).
  public var tokensEstimated = false
  /// Upstream stream events skipped because they could not be read.
  public var skippedEvents = 0
  /// True for streamed answers; a whole answer's first token arrives with its last.
  public var streamed = false
  /// What the request asked for, as routing saw it (the dashboard's badges).
  public var features = Features()

  /// Request features routes can match on.
  public struct Features: Sendable, Equatable {
    /// The client asked for a stream.
    public var stream = false
    /// The request declared tools.
    public var tools = false
    /// The request carried images.
    public var images = false
  }
  /// Each upstream exchange louter opened, in order (a hop refused before sending has none).
  public var exchanges: [UpstreamExchange] = []

  /// One request sent to a backend, as its transport saw it.
  public struct UpstreamExchange: Sendable, Equatable {
    /// Backend name.
    public var backend: String
    /// Seconds from sending the request to the first byte of the answer (its head); nil when none came.
    public var latency: Double?
    /// Seconds the exchange was open: from sending to the end of the answer's body, or to the failure.
    public var open: Double

    /// Creates an exchange record.
    public init(backend: String, latency: Double?, open: Double) {
      self.backend = backend
      self.latency = latency
      self.open = open
    }

    /// The record of an exchange as the timeline timed it.
    init(_ timing: UpstreamTiming) {
      self.init(
        backend: timing.backend, latency: timing.answered.map { RequestRecord.seconds(from: timing.sent, to: $0) },
        open: RequestRecord.seconds(from: timing.sent, to: timing.ended))
    }
  }

  /// Creates a record for a request id.
  public init(id: String) { self.id = id }

  /// Output tokens per second over the generation phase: output ÷ (total − TTFT).
  public var tokensPerSecond: Double? {
    guard let outputTokens, let ttft = timeToFirstToken, outputTokens > 0 else { return nil }
    // Non-streamed answers arrive whole: their generation phase is the whole request.
    let generation = streamed ? total - ttft : total
    return generation > 0 ? Double(outputTokens) / generation : nil
  }

  /// Seconds of the request not spent waiting on a backend: the total less the time upstream exchanges were
  /// open (they never overlap: hops run one after another).
  public var gatewayOverhead: Double {
    max(0, total - exchanges.reduce(0) { $0 + $1.open })
  }

  static func milliseconds(_ seconds: Double) -> String {
    let value = (seconds * 10_000).rounded() / 10
    return "\(value)ms"
  }

  /// The one-line `--verbose` form.
  public var line: String {
    let tried =
      hops.isEmpty
      ? "-"
      : hops.map { $0.outcome == "ok" ? $0.backend : "\($0.backend)(\($0.outcome))" }
        .joined(separator: ",")
    let rewritten = upstreamModel == model || upstreamModel == "-" ? model : "\(model)->\(upstreamModel)"
    var text = "req=\(id) client=\(client) route=\(route) tried=\(tried) mode=\(mode) \(method) model=\(rewritten)"
    // The Gemini front is the default and stays unnamed, so that existing log readers see the same line.
    if front != .gemini { text += " front=\(front.rawValue)" }
    text += " status=\(status) ttft=\(timeToFirstToken.map(Self.milliseconds) ?? "-") total=\(Self.milliseconds(total))"
    let mark = tokensEstimated ? "~" : ""
    text += " tokens=\(mark)\(inputTokens.map(String.init) ?? "-")/\(mark)\(outputTokens.map(String.init) ?? "-")"
    if let tps = tokensPerSecond { text += " tps=\((tps * 10).rounded() / 10)" } else { text += " tps=-" }
    if skippedEvents > 0 { text += " skipped=\(skippedEvents)" }
    return text
  }

  /// Who produced an error answer: `front` when louter refused or answered the request before trying any
  /// backend (bad JSON, an undecodable request, no route, a denied key), `backend` when a hop's outcome is the
  /// answer; nil for a success.
  public var rejectedBy: String? { rejecter?.rawValue }

  /// ``rejectedBy`` as a value.
  public var rejecter: Rejecter? {
    guard status >= 400 else { return nil }
    return hops.isEmpty ? .front : .backend
  }

  /// Who produced an error answer (see ``rejectedBy``).
  public enum Rejecter: String, Sendable {
    case front
    case backend
  }

  /// The JSON request-log form.
  public var json: JSONValue {
    .object([
      "id": .string(id), "client": .string(client), "route": .string(route),
      "backends": .array(hops.map { .object(["backend": .string($0.backend), "outcome": .string($0.outcome)]) }),
      "rejected_by": rejectedBy.map(JSONValue.string) ?? .null,
      "front": .string(front.rawValue), "mode": .string(mode), "method": .string(method), "model": .string(model),
      "upstream_model": .string(upstreamModel),
      "status": .int(Int64(status)), "ttft_ms": timeToFirstToken.map { .double(($0 * 1e6).rounded() / 1e3) } ?? .null,
      "total_ms": .double((total * 1e6).rounded() / 1e3), "input_tokens": inputTokens.map { .int(Int64($0)) } ?? .null,
      "output_tokens": outputTokens.map { .int(Int64($0)) } ?? .null, "tokens_estimated": .bool(tokensEstimated),
      "tokens_per_second": tokensPerSecond.map { .double(($0 * 10).rounded() / 10) } ?? .null,
      "skipped_events": .int(Int64(skippedEvents)),
    ])
  }
}

/// One thing that happened to a request, as its record learns it: the gateway's parts send these, and
/// ``RequestRecord/apply(_:started:)`` is the one place that writes the record.
enum RequestEvent {
  /// The request is for this front (the Gemini front is the default).
  case front(Front)
  /// The front read the call: the endpoint and the requested model.
  case call(method: String, model: String)
  /// The facts routing saw: whether the client asked for a stream, declared tools, sent images.
  case features(RequestFacts)
  /// The caller's key named this client.
  case client(String)
  /// The route that matched, and the model it sends upstream (nil when the route denied the request).
  case route(String, upstreamModel: String?)
  /// A hop began on a backend of this kind (`openai`, `gemini`, `echo`).
  case hopStarted(mode: String)
  /// A hop ended: `ok`, or why it did not serve the request.
  case hopEnded(backend: String, outcome: String)
  /// A whole answer with this status went to the client; `tokens` when it carried the model's answer,
  /// whose first token then arrived with its last.
  case answered(status: Int, tokens: Bool, at: MonotonicInstant)
  /// Token counts a backend reported in a whole answer.
  case usage(TokenUsage)
  /// A stream relayed to the client, as the relay saw it.
  case streamed(RelayFacts)
  /// The client went away: nothing more could be sent.
  case clientGone
  /// The upstream exchanges the request's transports timed, as records (``UpstreamTimeline/exchanges(now:)``).
  case exchanges([RequestRecord.UpstreamExchange])
  /// The request is over.
  case finished(at: MonotonicInstant)
}

extension RequestRecord {
  /// Writes what `event` says; `started` is when the request arrived.
  mutating func apply(_ event: RequestEvent, started: MonotonicInstant) {
    switch event {
    case .front(let front):
      self.front = front
    case .call(let method, let model):
      self.method = method
      self.model = model.isEmpty ? "-" : model
    case .features(let facts):
      features = Features(stream: facts.stream, tools: facts.tools, images: facts.images)
    case .client(let name):
      client = name
    case .route(let name, let upstream):
      route = name
      if let upstream { upstreamModel = upstream }
    case .hopStarted(let mode):
      self.mode = mode
    case .hopEnded(let backend, let outcome):
      hops.append(Hop(backend: backend, outcome: outcome))
    case .answered(let status, let tokens, let at):
      self.status = status
      if tokens { timeToFirstToken = Self.seconds(from: started, to: at) }
    case .usage(let usage):
      apply(usage)
    case .streamed(let facts):
      if let committedAt = facts.committedAt {
        streamed = true
        timeToFirstToken = Self.seconds(from: started, to: committedAt)
      }
      if let status = facts.status { self.status = status }
      skippedEvents = facts.skippedEvents
      apply(facts.usage)
      if facts.complete, outputTokens == nil {
        outputTokens = (facts.textBytes + 3) / 4
        tokensEstimated = true
      }
    case .clientGone:
      status = 499
    case .exchanges(let timed):
      exchanges = timed
    case .finished(let at):
      total = Self.seconds(from: started, to: at)
    }
  }

  /// Seconds between two instants.
  static func seconds(from start: MonotonicInstant, to end: MonotonicInstant) -> Double {
    start.seconds(to: end)
  }

  /// Takes the token counts a backend reported; nothing when it reported none.
  private mutating func apply(_ usage: TokenUsage) {
    guard usage.reported else { return }
    if let input = usage.input { inputTokens = input }
    if let output = usage.output { outputTokens = output }
    tokensEstimated = false
  }
}

import RouteCompiler
import RouteSpec

/// Limits on what louter reads from an upstream before answering.
enum UpstreamLimits {
  /// An error body: enough for any message.
  static let errorBody = 1 << 20
  /// A whole non-streamed answer.
  static let responseBody = 64 << 20
}

/// Writes Gemini stream events to the client in the form it asked for (`alt=sse` or the JSON array).
struct ClientStreamWriter {
  let sse: Bool
  var array = GeminiJSONArrayWriter()

  var contentType: String { sse ? GeminiSSEWriter.contentType : GeminiJSONArrayWriter.contentType }

  mutating func bytes(_ event: GeminiStreamEvent) -> [UInt8] {
    sse ? GeminiSSEWriter.event(event) : array.write(event)
  }

  mutating func bytes(_ output: GeminiStreamOutput) -> [UInt8] {
    sse ? GeminiSSEWriter.event(output) : array.write(output)
  }

  mutating func end() -> [UInt8] {
    sse || array.isClosed ? [] : array.end()
  }
}

extension Exchange {
  // MARK: shared

  /// A `POST` to `backend` with its deadlines, from checked parts only.
  func upstreamRequest(_ backend: CompiledBackend, url: UpstreamURL, headers: [UpstreamHeaderField], body: [UInt8])
    -> UpstreamRequest
  {
    UpstreamRequest(
      post: url, headers: headers, body: body, connectTimeout: backend.connectTimeout.duration,
      firstByteTimeout: backend.firstByteTimeout.duration, streamIdleTimeout: backend.streamIdleTimeout.duration,
      totalTimeout: backend.timeout.duration)
  }

  /// A piece of the client's request that cannot go upstream: the client's 400, never retried elsewhere.
  static func clientFault(_ error: UpstreamTargetError, backend: String) -> HopFailure {
    HopFailure(
      backend: backend, fault: .rejected, error: .invalidArgument("The request cannot be forwarded: \(error)."),
      outcome: "400")
  }

  /// A piece of the route file's backend that cannot go upstream: the backend is skipped as unconfigured.
  static func backendFault(_ error: UpstreamTargetError, backend: String) -> HopFailure {
    HopFailure(
      backend: backend, fault: .skipped, error: .unavailable("backend '\(backend)' is misconfigured: \(error)"),
      outcome: "misconfigured")
  }

  /// The backend's base URL with `path` and `query` appended; only the base can be at fault here, the
  /// segments and pairs being encoded already.
  static func url(_ backend: CompiledBackend, path: [PathSegment], query: [QueryItem] = []) throws(HopFailure)
    -> UpstreamURL
  {
    do {
      return try UpstreamURL(base: backend.url ?? "echo://local", path: path, query: query)
    } catch {
      throw backendFault(error, backend: backend.name)
    }
  }

  /// Segments for constant path text (`chat/completions`) or text from the client (`client: true`).
  static func segments(_ parts: [String], client: Bool, backend: CompiledBackend) throws(HopFailure) -> [PathSegment] {
    var segments: [PathSegment] = []
    for part in parts {
      do {
        segments.append(try PathSegment(part))
      } catch {
        throw client ? clientFault(error, backend: backend.name) : backendFault(error, backend: backend.name)
      }
    }
    return segments
  }

  /// The key header (`forwardKey` sends the client's own key, which is then the client's fault if it
  /// cannot be a header value) and the route file's extra headers.
  static func credentialHeaders(
    _ backend: CompiledBackend, clientKey: String?, name: String, value: (String) -> String
  ) throws(HopFailure) -> [UpstreamHeaderField] {
    var headers: [UpstreamHeaderField] = []
    if let secret = backend.forwardKey ? clientKey : backend.apiKey, !secret.isEmpty {
      do {
        headers.append(try UpstreamHeaderField(name, value(secret)))
      } catch {
        throw backend.forwardKey
          ? clientFault(error, backend: backend.name) : backendFault(error, backend: backend.name)
      }
    }
    for header in backend.headers {
      do {
        headers.append(try UpstreamHeaderField(header.name, header.value))
      } catch {
        throw backendFault(error, backend: backend.name)
      }
    }
    return headers
  }

  static func dialect(for backend: CompiledBackend) -> OpenAIDialect {
    var dialect: OpenAIDialect =
      backend.protocolName == .echo ? .generic : (backend.flavor == .azure ? .azure : .openAI)
    dialect.maxTokensField = backend.maxTokensField == "max_tokens" ? .maxTokens : .maxCompletionTokens
    dialect.supportsStreamOptions = backend.streamUsage
    return dialect
  }

  static func openAIHeaders(_ backend: CompiledBackend, key: String?, stream: Bool) throws(HopFailure)
    -> [UpstreamHeaderField]
  {
    var headers = [
      try Self.constantHeader("content-type", "application/json", backend: backend),
      try Self.constantHeader("accept", stream ? "text/event-stream" : "application/json", backend: backend),
    ]
    if backend.flavor == .azure {
      headers += try Self.credentialHeaders(backend, clientKey: key, name: "api-key") { $0 }
    } else {
      headers += try Self.credentialHeaders(backend, clientKey: key, name: "authorization") { "Bearer \($0)" }
    }
    return headers
  }

  /// A header louter itself writes; its text is a literal, so a failure is a programming error shown as a
  /// misconfigured backend rather than a trap.
  static func constantHeader(_ name: String, _ value: String, backend: CompiledBackend) throws(HopFailure)
    -> UpstreamHeaderField
  {
    do {
      return try UpstreamHeaderField(name, value)
    } catch {
      throw backendFault(error, backend: backend.name)
    }
  }

  /// Whether `backend`'s URLs name the model (Azure's deployment), so that each request builds its own.
  static func putsModelInPath(_ backend: CompiledBackend) -> Bool {
    backend.flavor == .azure && backend.protocolName == .openai
  }

  /// `chat/completions` or `embeddings` on an OpenAI backend; Azure puts the model (the deployment) in the
  /// path, as one encoded segment, and its `api-version` in the query.
  static func openAIURL(_ backend: CompiledBackend, path: [String], model: String) throws(HopFailure) -> UpstreamURL {
    let endpoint = try Self.segments(path, client: false, backend: backend)
    if putsModelInPath(backend) {
      let deployment = try Self.segments([model], client: true, backend: backend)
      let prefix = try Self.segments(["openai", "deployments"], client: false, backend: backend)
      let query = backend.apiVersion.map { [QueryItem("api-version", $0)] } ?? []
      return try Self.url(backend, path: prefix + deployment + endpoint, query: query)
    }
    return try Self.url(backend, path: endpoint)
  }

  /// Starts a hop: records it, then sends its request (one that could not be built fails the hop). Returns
  /// the answer and when the hop started, from which its first-answer deadline counts.
  mutating func startHop(
    mode: String, _ request: Result<UpstreamRequest, HopFailure>, via runtime: BackendRuntime, gemini: Bool
  ) async -> Result<(response: UpstreamResponse, started: MonotonicInstant), HopFailure> {
    log(.hopStarted(mode: mode))
    let started = MonotonicInstant.now
    switch request {
    case .failure(let failure): return .failure(failure)
    case .success(let request):
      return await send(request, via: runtime, gemini: gemini).map { ($0, started) }
    }
  }

  /// A request to a Gemini backend: `{version}/models/{model}:{method}` (the model as one checked path
  /// segment), JSON, with the backend's key or the client's forwarded one.
  func geminiRequest(
    _ backend: CompiledBackend, version: String, model: String, method: String, query: [QueryItem] = [],
    key: String?, body: [UInt8]
  ) throws(HopFailure) -> UpstreamRequest {
    let fixed = try Self.segments([version, "models"], client: false, backend: backend)
    let call = try Self.segments(["\(model):\(method)"], client: true, backend: backend)
    let url = try Self.url(backend, path: fixed + call, query: query)
    var headers = [try Self.constantHeader("content-type", "application/json", backend: backend)]
    headers += try Self.credentialHeaders(backend, clientKey: key, name: "x-goog-api-key") { $0 }
    return upstreamRequest(backend, url: url, headers: headers, body: body)
  }

  /// Sends a hop's request; an unreachable backend or a non-200 answer is a hop failure.
  func send(_ request: UpstreamRequest, via runtime: BackendRuntime, gemini: Bool) async -> Result<
    UpstreamResponse, HopFailure
  > {
    let backend = runtime.backend
    let response: UpstreamResponse
    do {
      response = try await timeline.send(request, through: runtime.transport, backend: backend.name)
    } catch {
      return .failure(Self.failure(error, backend: backend.name))
    }
    guard response.head.status == 200 else {
      return .failure(await errorFailure(response.head, response.body, backend: backend, gemini: gemini))
    }
    return .success(response)
  }

  /// Reads a whole body up to `limit` bytes; `.tooLarge` beyond it, or at once when the declared
  /// `content-length` is already beyond it.
  ///
  /// Past the cap the transfer is cancelled, which closes the upstream connection: the client has its
  /// answer, and the backend must not hold a connection (and a slot) until its timeout.
  /// The whole answer of a non-streamed hop, within `UpstreamLimits.responseBody`: cut, too large or late
  /// is the backend's fault.
  static func readAnswer(_ response: UpstreamResponse, backend: String) async -> Result<[UInt8], HopFailure> {
    do {
      return .success(
        try await readAll(
          response.body, declaredLength: response.head.headers["content-length"], limit: UpstreamLimits.responseBody))
    } catch {
      return .failure(failure(error, backend: backend))
    }
  }

  /// The whole answer parsed as one JSON value: relayed or translated only then; anything else (a body cut by
  /// its length, not UTF-8, not JSON) is the backend's fault.
  static func readJSONAnswer(_ response: UpstreamResponse, backend: String) async -> Result<
    (bytes: [UInt8], json: JSONValue), HopFailure
  > {
    switch await readAnswer(response, backend: backend) {
    case .failure(let failure): return .failure(failure)
    case .success(let bytes):
      guard let json = try? JSONParser.parse(bytes) else {
        return .failure(badAnswer(notJSON("a body that is not JSON", backend: backend), backend: backend))
      }
      return .success((bytes, json))
    }
  }

  static func readAll(_ body: UpstreamBody, declaredLength: String? = nil, limit: Int) async throws(UpstreamError)
    -> [UInt8]
  {
    // Digits only (the response parser has already refused anything else); saturated, never trapping.
    let declared = declaredLength.flatMap { BoundedInteger.decimalDigits($0.trimmingWhitespace(), maximum: .max) }
    if let declared, declared > Int64(limit) {
      body.cancel()
      throw .tooLarge
    }
    var data: [UInt8] = []
    while let chunk = try await body.next() {
      guard chunk.count <= limit - data.count else {
        body.cancel()
        throw .tooLarge
      }
      // The first chunk is taken as it is (a whole answer usually comes in one): no copy, no allocation.
      if data.isEmpty {
        data = chunk
      } else {
        data += chunk
      }
    }
    return data
  }

  /// Reads an upstream error answer and maps it to a hop failure.
  func errorFailure(
    _ head: UpstreamResponseHead, _ body: UpstreamBody, backend: CompiledBackend, gemini: Bool
  ) async -> HopFailure {
    let bytes =
      (try? await Self.readAll(body, declaredLength: head.headers["content-length"], limit: UpstreamLimits.errorBody))
      ?? []
    let error: GeminiError
    if gemini, let relayed = Self.geminiError(bytes, status: head.status) {
      error = relayed
    } else {
      switch UpstreamErrorMapper.map(
        status: head.status, body: bytes, retryAfter: head.headers["retry-after"],
        retryAfterMilliseconds: head.headers["retry-after-ms"], backend: backend.name,
        clientKeyForwarded: backend.forwardKey)
      {
      case .error(let mapped): error = mapped
      case .promptBlocked:
        error = .invalidArgument("the prompt was blocked by \(backend.name)'s filter")
      }
    }
    if UpstreamErrorMapper.refusesContextLength(status: head.status, body: bytes) {
      return HopFailure(backend: backend.name, fault: .contextTooLong, error: error, outcome: "context-length")
    }
    let retryAfter =
      RetryAfter.milliseconds(
        retryAfter: head.headers["retry-after"], milliseconds: head.headers["retry-after-ms"], now: RetryAfter.now())
      ?? Self.retryInfoDelay(error)
    return Self.failure(
      status: head.status, retryAfter: retryAfter.map { .milliseconds($0) }, error: error, backend: backend.name)
  }

  /// The `RetryInfo.retryDelay` of an error, in milliseconds: how a Gemini backend says when to come back.
  static func retryInfoDelay(_ error: GeminiError) -> Int64? {
    for detail in error.details where detail["@type"]?.stringValue == "type.googleapis.com/google.rpc.RetryInfo" {
      if let delay = detail["retryDelay"]?.stringValue.flatMap(RetryAfter.protobufDuration) { return delay }
    }
    return nil
  }

  /// A Gemini backend's own error body, kept as it is but for what a client could not read: a `code` that
  /// is no HTTP error status becomes the answer's own, a `status` that is no google.rpc code the one that
  /// status stands for.
  static func geminiError(_ bytes: [UInt8], status: Int) -> GeminiError? {
    guard let json = try? JSONParser.parse(bytes), let error = json["error"] else { return nil }
    let code = error["code"]?.integer(in: 400...599).map(Int.init) ?? status
    let rpc = error["status"]?.stringValue.flatMap(RPCCode.init(name:)) ?? RPCCode(upstreamHTTPStatus: code)
    return GeminiError(
      rpc, message: error["message"]?.stringValue ?? "upstream returned HTTP \(status)",
      details: error["details"]?.arrayValue ?? [], httpStatus: code)
  }

  mutating func noteUsage(_ usage: JSONValue?) {
    var counts = TokenUsage()
    counts.note(usage)
    log(.usage(counts))
  }

  /// ``noteUsage(_:)`` of the `usageMetadata` `counts` stand for, without building it.
  mutating func noteUsage(_ counts: GeminiUsageCounts?) {
    var usage = TokenUsage()
    usage.note(counts)
    log(.usage(usage))
  }

  /// Text characters of a response chunk, for the token estimate when no usage arrives.
  static func textBytes(_ json: JSONValue) -> Int {
    var count = 0
    for candidate in json["candidates"]?.arrayValue ?? [] {
      for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
        count += part["text"]?.stringValue?.utf8.count ?? 0
      }
    }
    return count
  }

  // MARK: OpenAI and echo

  mutating func translatedHop(_ runtime: BackendRuntime, _ forwarding: inout Forwarding) async -> HopResult {
    let backend = runtime.backend
    switch forwarding.call.method {
    case .countTokens:
      do {
        let answer = try TokenEstimator.countTokensResponse(body: forwarding.body)
        await respond(
          200, json: answer,
          headers: [("x-louter-backend", backend.name), ("x-louter-warning", "approximated=countTokens")])
        return .served(healthy: nil)
      } catch {
        return .failed(HopFailure(backend: backend.name, fault: .rejected, error: error.geminiError, outcome: "400"))
      }
    case .embedContent, .batchEmbedContents:
      return await embeddingHop(runtime, forwarding)
    default:
      break
    }
    let dialect = Self.dialect(for: backend)
    let translated: OpenAIChatRequest
    do {
      if let fromDecoded = try Self.translateDecoded(forwarding, dialect: dialect) {
        translated = fromDecoded
      } else {
        let body = RouteActions.apply(forwarding.plan, to: forwarding.body)
        let decoded = try GeminiRequest.decode(forwarding.resume.map { $0.withPrefill(body) } ?? body)
        forwarding.decoded = decoded
        translated = try GeminiToOpenAI.translate(
          decoded, model: forwarding.plan.model, dialect: dialect, stream: forwarding.stream)
      }
    } catch {
      return .failed(HopFailure(backend: backend.name, fault: .rejected, error: error.geminiError, outcome: "400"))
    }
    let upstream = Result { () throws(HopFailure) in
      upstreamRequest(
        backend, url: try runtime.openAI.url(.chat, backend, model: forwarding.plan.model),
        headers: try runtime.openAI.headers(backend, key: forwarding.key, stream: forwarding.stream),
        body: translated.bodyBytes)
    }
    let (response, hopStarted): (UpstreamResponse, MonotonicInstant)
    switch await startHop(mode: backend.protocolName.rawValue, upstream, via: runtime, gemini: false) {
    case .success(let hop): (response, hopStarted) = hop
    case .failure(let failure): return .failed(failure)
    }
    let hop = HopHeaders(backend: backend.name, warning: translated.warnings.headerValue)
    let options = GeminiResponseOptions(
      includeThoughts: translated.includeThoughts, modelVersion: forwarding.plan.model, responseId: record.id,
      backend: backend.name, integerEnums: GeminiAlt.parse(query: self.request.query).integerEnums)
    if !forwarding.stream {
      let bytes: [UInt8]
      switch await Self.readAnswer(response, backend: backend.name) {
      case .success(let answer): bytes = answer
      case .failure(let failure): return .failed(failure)
      }
      let answer: (bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings)
      do {
        answer = try OpenAIToGemini.translatedBytes(answer: bytes, options: options)
      } catch let error as GeminiError {
        return .failed(Self.badAnswer(error, backend: backend.name))
      } catch {
        return .failed(
          Self.badAnswer(Self.notJSON("a body that is not JSON", backend: backend.name), backend: backend.name))
      }
      noteUsage(answer.usage)
      await respond(200, jsonBody: answer.bytes, hop: hop, headers: [], tokens: true)
      return .served(healthy: true)
    }
    let form = TranslatedStreamForm(
      backend: backend.name, options: options, sse: forwarding.call.isSSE(request: self.request),
      resume: forwarding.resume)
    return await relay(
      response.body, form: form, backend: backend, hopStarted: hopStarted, hop: hop, headers: [], forwarding)
  }

  /// The request `forwarding` has decoded already, translated for `dialect`; nil when it is not decoded yet.
  /// Read where it is kept: a copy of the decoded request cost a retain and a release of each of its parts.
  static func translateDecoded(_ forwarding: Forwarding, dialect: OpenAIDialect) throws(GeminiRequestError)
    -> OpenAIChatRequest?
  {
    guard let decoded = forwarding.decoded else { return nil }
    return try GeminiToOpenAI.translate(
      decoded, model: forwarding.plan.model, dialect: dialect, stream: forwarding.stream)
  }

  /// A 2xx answer that cannot be relayed or translated: a backend fault, and the chain goes on.
  static func badAnswer(_ error: GeminiError, backend: String) -> HopFailure {
    HopFailure(backend: backend, fault: .invalidAnswer, error: error, outcome: "bad-answer")
  }

  /// A relayed stream the framer could not cut into events (not JSON, not UTF-8, an event too large).
  static func unreadable(_ error: SSEEventFramer.Failure, backend: String) -> HopFailure {
    badAnswer(notJSON(error.what, backend: backend), backend: backend)
  }

  /// The 502 for an answer that is not what a Gemini client can read; `what` says what was sent.
  static func notJSON(_ what: String, backend: String) -> GeminiError {
    GeminiError(.unavailable, message: "backend '\(backend)' sent \(what)", httpStatus: 502)
  }

  /// Relays a stream to the client with the one ``StreamRelay`` and records what it saw.
  mutating func relay(
    _ body: UpstreamBody, form: some StreamForm, backend: CompiledBackend, hopStarted: MonotonicInstant,
    hop: HopHeaders? = nil, headers: [(String, String)], _ forwarding: Forwarding
  ) async -> HopResult {
    var relay = StreamRelay(
      form: form, backend: backend.name, policy: forwarding.policy,
      firstAnswerDeadline: hopStarted.advanced(by: backend.firstByteTimeout.duration),
      headers: answerHeaders(contentType: nil, hop: hop, headers),
      resuming: forwarding.resume != nil, continuation: forwarding.canContinue)
    let result = await relay.run(from: body, to: responder)
    log(.streamed(relay.facts))
    return result
  }

  // MARK: embeddings

  mutating func embeddingHop(_ runtime: BackendRuntime, _ forwarding: Forwarding) async -> HopResult {
    let backend = runtime.backend
    let batch = forwarding.call.method == .batchEmbedContents
    let translated: EmbeddingTranslator.Request
    do {
      translated = try EmbeddingTranslator.openAIRequest(
        forwarding.body, batch: batch, urlModel: forwarding.call.model, backendModel: forwarding.plan.model)
    } catch {
      return .failed(HopFailure(backend: backend.name, fault: .rejected, error: error.geminiError, outcome: "400"))
    }
    let upstream = Result { () throws(HopFailure) in
      upstreamRequest(
        backend, url: try runtime.openAI.url(.embeddings, backend, model: forwarding.plan.model),
        headers: try runtime.openAI.headers(backend, key: forwarding.key, stream: false),
        body: translated.body.serializedBytes())
    }
    let response: UpstreamResponse
    switch await startHop(mode: backend.protocolName.rawValue, upstream, via: runtime, gemini: false) {
    case .success(let hop): response = hop.response
    case .failure(let failure): return .failed(failure)
    }
    do {
      let bytes = try await Self.readAll(
        response.body, declaredLength: response.head.headers["content-length"], limit: UpstreamLimits.responseBody)
      let json = try JSONParser.parse(bytes)
      let answer = try EmbeddingTranslator.geminiResponse(json, batch: batch, expectedCount: translated.count)
      var headers: [(String, String)] = [("x-louter-backend", backend.name)]
      if let warning = translated.warnings.headerValue { headers.append(("x-louter-warning", warning)) }
      await respond(200, json: answer, headers: headers)
      return .served(healthy: true)
    } catch let error as GeminiError {
      return .failed(Self.badAnswer(error, backend: backend.name))
    } catch let error as UpstreamError {
      return .failed(Self.failure(error, backend: backend.name))
    } catch {
      return .failed(
        Self.badAnswer(Self.notJSON("a body that is not JSON", backend: backend.name), backend: backend.name))
    }
  }
}

extension GeminiCall {
  /// `?alt=sse` (or `$alt=sse`) asks for server-sent events; without it a stream is one JSON array.
  func isSSE(request: HTTPRequest) -> Bool {
    GeminiAlt.parse(query: request.query).sse
  }
}

/// The upstream URLs and headers of an OpenAI-protocol backend that are the same for every request, built and
/// checked once per route table rather than once per request (they were a tenth of a request's allocations).
/// What depends on the request (an Azure deployment in the path, a forwarded client key) is still built per
/// request, by the same functions.
struct OpenAITargets: Sendable {
  /// The OpenAI endpoints louter calls.
  enum Endpoint: Sendable, CaseIterable {
    case chat
    case embeddings

    var path: [String] { self == .chat ? ["chat", "completions"] : ["embeddings"] }
  }

  /// A part built once: the part, or the failure building it gave (thrown for every request, as building it
  /// per request would); neither when it depends on the request. Two optionals rather than an optional
  /// `Result`, whose every copy went through the runtime's generic value witnesses (a tenth of a microsecond
  /// per request).
  private struct Prebuilt<Part: Sendable>: Sendable {
    var part: Part?
    var failure: HopFailure?

    /// Builds the part when `once` says it does not depend on the request.
    init(once: Bool, _ build: () throws(HopFailure) -> Part) {
      guard once else { return }
      do {
        part = try build()
      } catch {
        failure = error
      }
    }
  }

  private let chatURL: Prebuilt<UpstreamURL>
  private let embeddingsURL: Prebuilt<UpstreamURL>
  private let answerHeaders: Prebuilt<[UpstreamHeaderField]>
  private let streamHeaders: Prebuilt<[UpstreamHeaderField]>

  /// Builds what `backend` sends every time.
  init(_ backend: CompiledBackend) {
    let urlOnce = !Exchange.putsModelInPath(backend)
    chatURL = Prebuilt(once: urlOnce) { () throws(HopFailure) in
      try Exchange.openAIURL(backend, path: Endpoint.chat.path, model: "")
    }
    embeddingsURL = Prebuilt(once: urlOnce) { () throws(HopFailure) in
      try Exchange.openAIURL(backend, path: Endpoint.embeddings.path, model: "")
    }
    answerHeaders = Prebuilt(once: !backend.forwardKey) { () throws(HopFailure) in
      try Exchange.openAIHeaders(backend, key: nil, stream: false)
    }
    streamHeaders = Prebuilt(once: !backend.forwardKey) { () throws(HopFailure) in
      try Exchange.openAIHeaders(backend, key: nil, stream: true)
    }
  }

  /// The URL of `endpoint` for a request to `model`.
  func url(_ endpoint: Endpoint, _ backend: CompiledBackend, model: String) throws(HopFailure) -> UpstreamURL {
    if let url = endpoint == .chat ? chatURL.part : embeddingsURL.part { return url }
    if let failure = endpoint == .chat ? chatURL.failure : embeddingsURL.failure { throw failure }
    return try Exchange.openAIURL(backend, path: endpoint.path, model: model)
  }

  /// The headers of a request that presents the client's `key` (used only when the backend forwards it).
  func headers(_ backend: CompiledBackend, key: String?, stream: Bool) throws(HopFailure) -> [UpstreamHeaderField] {
    if let headers = stream ? streamHeaders.part : answerHeaders.part { return headers }
    if let failure = stream ? streamHeaders.failure : answerHeaders.failure { throw failure }
    return try Exchange.openAIHeaders(backend, key: key, stream: stream)
  }
}

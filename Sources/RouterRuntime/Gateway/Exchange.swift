import RouteCompiler
import RouteSpec

/// One request's trip through the gateway: front, route, chain, answer.
struct Exchange {
  let request: HTTPRequest
  let responder: HTTPResponder
  /// The table and backends the request started with (a reload does not change them).
  let snapshot: Gateway.Snapshot
  /// Counts each client's requests, tokens and streams against its `limits`.
  let limiter: ClientLimiter
  let started: MonotonicInstant
  /// When each of the request's hops was sent, answered and ended (every hop is sent through it).
  let timeline = UpstreamTimeline()
  /// Written only through ``log(_:)``.
  private(set) var record: RequestRecord
  /// The route every answer names in `x-louter-route`, once one matched (every answer carries `x-request-id` too).
  private(set) var routeHeader: String?
  /// The API the client speaks: it shapes every error the client gets.
  var front: Front = .gemini

  init(
    request: HTTPRequest, responder: HTTPResponder, snapshot: Gateway.Snapshot, limiter: ClientLimiter,
    started: MonotonicInstant
  ) {
    self.request = request
    self.responder = responder
    self.snapshot = snapshot
    self.limiter = limiter
    self.started = started
    self.record = RequestRecord(id: RequestID.make())
  }

  /// The headers of an answer: its `content-type` when given, then those every answer carries, then the hop's,
  /// then `extra`. One array at its size per answer: the others are not kept in arrays of their own.
  func answerHeaders(contentType: String?, hop: HopHeaders? = nil, _ extra: [(String, String)]) -> [(String, String)] {
    var headers: [(String, String)] = []
    headers.reserveCapacity(5 + extra.count)
    if let contentType { headers.append(("content-type", contentType)) }
    headers.append(("x-request-id", record.id))
    if let routeHeader { headers.append(("x-louter-route", routeHeader)) }
    if let hop {
      headers.append(("x-louter-backend", hop.backend))
      if let warning = hop.warning { headers.append(("x-louter-warning", warning)) }
    }
    // Element by element: `+=` of an array of pairs copies through the runtime's generic witnesses.
    for header in extra { headers.append(header) }
    return headers
  }

  /// The request matched route `index` (denied, or forwarded as `upstreamModel`): the record learns it and
  /// every answer names it in `x-louter-route`.
  mutating func enterRoute(_ index: Int, upstreamModel: String?) {
    log(.route(snapshot.table.routes[index].name, upstreamModel: upstreamModel))
    routeHeader = record.route
  }

  /// Tells the request record what happened.
  mutating func log(_ event: RequestEvent) {
    record.apply(event, started: started)
  }

  // MARK: answers

  /// Sends a whole JSON answer; `tokens` when it carries the model's answer.
  mutating func respond(_ status: Int, json: JSONValue, headers extra: [(String, String)] = [], tokens: Bool = false)
    async
  {
    await respond(status, jsonBody: json.serializedBytes(), headers: extra, tokens: tokens)
  }

  /// Sends JSON already written to bytes; `hop` names the backend that answered.
  mutating func respond(
    _ status: Int, jsonBody: [UInt8], hop: HopHeaders? = nil, headers extra: [(String, String)], tokens: Bool
  ) async {
    await respond(
      status, body: jsonBody, contentType: "application/json; charset=UTF-8", hop: hop, headers: extra,
      tokens: tokens)
  }

  /// Sends a whole answer and records its status, or 499 when the client is gone.
  mutating func respond(
    _ status: Int, body: [UInt8], contentType: String, hop: HopHeaders? = nil, headers extra: [(String, String)],
    tokens: Bool
  ) async {
    do {
      try await responder.respond(
        status: status, headers: answerHeaders(contentType: contentType, hop: hop, extra), body: body)
      log(.answered(status: status, tokens: tokens, at: .now))
    } catch {
      log(.clientGone)
    }
  }

  /// Sends `error` in the shape of the client's API.
  mutating func fail(_ error: GeminiError, headers: [(String, String)] = []) async {
    switch front {
    case .gemini:
      await respond(error.code, json: error.json, headers: headers)
    case .openai:
      await respond(
        error.code, json: OpenAIWire.errorJSON(error), headers: headers + OpenAIWire.retryAfterHeaders(error))
    }
  }

  // MARK: front

  mutating func run() async {
    let path = request.path
    if request.method == "GET", path == "/healthz" || path == "/readyz" {
      // `serve` answers /readyz in front of the gateway (with the last reload); a gateway embedded alone answers
      // it here, in the same shape.
      let body: JSONValue =
        path == "/healthz"
        ? .object(["status": "ok"]) : ReadinessEndpoint.body(routes: snapshot.table.routes.count, last: nil)
      await respond(200, json: body)
      return
    }
    if OpenAICall.servesOpenAI(request) {
      front = .openai
      await runOpenAI()
      return
    }
    let parsed: GeminiCall?
    do {
      parsed = try GeminiCall.decode(httpMethod: request.method, path: path)
    } catch {
      // A Gemini method with a model outside the model-id grammar: the client's mistake, before routing.
      await fail(error)
      return
    }
    guard let call = parsed else {
      // A path neither API has, from a client that sends its key the OpenAI way: its 404 in OpenAI's shape.
      if OpenAICall.sendsOpenAICredentials(request) { front = .openai }
      await fail(
        .notFound(
          "no Gemini API method at \(request.method) \(path) (louter serves /v1beta and /v1 models/...)"))
      return
    }
    log(.call(method: call.method.rawValue, model: call.model))
    let key = Self.presentedKey(request)
    // Authentication comes before the body is read: a refused caller gets its error whatever it sent.
    let authentication = snapshot.authenticate(key: key)
    if let failure = authentication.failure {
      await fail(Self.error(for: failure))
      return
    }
    if let index = authentication.clientIndex { log(.client(snapshot.table.clients[index].name)) }
    let client = authentication.clientIndex
    switch call.method {
    case .listModels:
      let caller = RequestFacts(
        client: client, key: key, model: "", headers: request.headers.firstValues(of: snapshot.table.matchedHeaderNames)
      )
      let models = ModelCatalog.models(for: caller, table: snapshot.table)
      let pageSize = QueryString.value("pageSize", in: request.query).flatMap { Int($0) }
      await respond(
        200,
        json: ModelCatalog.listJSON(
          models, pageSize: pageSize, pageToken: QueryString.value("pageToken", in: request.query)))
      return
    case .getModel:
      let caller = RequestFacts(
        client: client, key: key, model: call.model,
        headers: request.headers.firstValues(of: snapshot.table.matchedHeaderNames))
      if let model = ModelCatalog.model(call.model, for: caller, table: snapshot.table) {
        await respond(200, json: ModelCatalog.modelJSON(model))
      } else {
        await fail(.notFound("models/\(call.model) is not found for this client"))
      }
      return
    default:
      break
    }
    let body: JSONValue
    do {
      body = try JSONParser.parse(request.body, syntax: .geminiRequest)
    } catch {
      await fail(.invalidArgument("Invalid JSON payload received. \(error.description)"))
      return
    }
    guard case .object = body else {
      await fail(.invalidArgument("Invalid JSON payload received. The request body must be a JSON object."))
      return
    }
    let stream = call.method == .streamGenerateContent
    let facts = RequestFacts(
      client: client, key: key, model: call.model, endpoint: call.endpoint, stream: stream,
      tools: RequestFeatures.declaresTools(body), images: RequestFeatures.carriesImages(body),
      headers: request.headers.firstValues(of: snapshot.table.matchedHeaderNames))
    log(.features(facts))
    switch snapshot.decide(facts, authentication: authentication) {
    case .unauthenticated(let failure):
      await fail(Self.error(for: failure))
    case .noRoute:
      await fail(.notFound("no route serves model '\(call.model)' for this client"))
    case .denied(let route, let message):
      enterRoute(route, upstreamModel: nil)
      await fail(GeminiError(.permissionDenied, message: message))
    case .routed(let plan):
      enterRoute(plan.route, upstreamModel: plan.model)
      var forwarding = Forwarding(call: call, plan: plan, body: body, key: key, stream: stream)
      if let error = decodeAtFront(&forwarding) {
        await fail(error)
        return
      }
      await forwardWithinLimits(&forwarding, client: client)
    }
  }

  /// The Gemini API's answer to a caller refused by authentication.
  static func error(for failure: AuthenticationFailure) -> GeminiError {
    switch failure {
    case .missingKey:
      GeminiError(
        .permissionDenied,
        message: "Method doesn't allow unregistered callers (callers without established identity). "
          + "Please use API Key or other form of API consumer identity to call this API.")
    case .unknownKey:
      GeminiError(
        .invalidArgument, message: "API key not valid. Please pass a valid API key.",
        details: [GeminiError.errorInfo(reason: "API_KEY_INVALID", domain: "googleapis.com")])
    }
  }

  /// Decodes a generate request before any backend when every backend of the chain translates it (none would
  /// pass the client's bytes through, so each would decode it the same way): a request louter cannot read is
  /// then the front's 400, and the record names no backend. Returns that error, or nil to go on.
  mutating func decodeAtFront(_ forwarding: inout Forwarding) -> GeminiError? {
    guard forwarding.call.method == .generateContent || forwarding.call.method == .streamGenerateContent else {
      return nil
    }
    let chain = forwarding.plan.chain
    guard !chain.isEmpty, chain.allSatisfy({ snapshot.backends[$0].backend.protocolName != .gemini }) else {
      return nil
    }
    do {
      forwarding.decoded = try GeminiRequest.decode(RouteActions.apply(forwarding.plan, to: forwarding.body))
    } catch {
      return error.geminiError
    }
    return nil
  }

  /// The key from `x-goog-api-key`, then `?key=`, then `Authorization: Bearer`.
  static func presentedKey(_ request: HTTPRequest) -> String? {
    if let key = request.headers["x-goog-api-key"], !key.isEmpty { return key }
    if let key = QueryString.value("key", in: request.query), !key.isEmpty { return key }
    return OpenAICall.bearer(request)
  }
}

/// The headers a hop adds to its answer, as values rather than an array of their own: `x-louter-backend`, and
/// `x-louter-warning` when the translation left something out.
struct HopHeaders {
  let backend: String
  let warning: String?
}

/// Request features that routes can match on, read from the Gemini body (either JSON spelling).
enum RequestFeatures {
  static func declaresTools(_ body: JSONValue) -> Bool {
    guard let tools = body["tools"]?.arrayValue else { return false }
    return tools.contains { tool in
      let declarations = tool["functionDeclarations"] ?? tool["function_declarations"]
      return !(declarations?.arrayValue?.isEmpty ?? true)
    }
  }

  /// Whether a part of the contents carries an image: inline or file data whose MIME type is `image/...` (the
  /// first member of each spelling counts, as a lookup by name finds it).
  static func carriesImages(_ body: JSONValue) -> Bool {
    let contents: [JSONValue]
    switch body["contents"] {
    case .array(let values)?: contents = values
    case .object?: contents = [body["contents"] ?? .null]
    default: return false
    }
    for content in contents {
      let parts: [JSONValue]
      switch content["parts"] {
      case .array(let values)?: parts = values
      case .object?: parts = [content["parts"] ?? .null]
      default: continue
      }
      for part in parts {
        guard case .object(let members) = part else { continue }
        // One pass over the part's members (a `text` in most), not a lookup for each media spelling.
        var seen: UInt8 = 0
        for index in members.indices {
          guard let spelling = mediaSpelling(members[index].key), seen & spelling == 0 else { continue }
          seen |= spelling
          let media = members[index].value
          let mime = (media["mimeType"] ?? media["mime_type"])?.stringValue ?? ""
          if mime.hasPrefix("image/") { return true }
        }
      }
    }
    return false
  }

  /// A bit for each member name of a part that carries media (`inlineData`, `inline_data`, `fileData`,
  /// `file_data`), nil for any other name: by length first, as almost every name is another.
  static func mediaSpelling(_ key: String) -> UInt8? {
    switch key.utf8.count {
    case 8: key == "fileData" ? 1 : nil
    case 9: key == "file_data" ? 2 : nil
    case 10: key == "inlineData" ? 4 : nil
    case 11: key == "inline_data" ? 8 : nil
    default: nil
    }
  }
}

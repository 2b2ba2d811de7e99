import FoundationEssentials
import RouteCompiler
import RouteSpec

/// One OpenAI chat or embeddings request as the front read it.
struct OpenAIChat {
  /// The client's body, parsed.
  let body: JSONValue
  /// The model the client asked for.
  let model: String
  let stream: Bool
  /// `stream_options.include_usage`.
  let includeUsage: Bool
  /// The answer's id, creation time and model.
  let identity: OpenAIAnswerIdentity
  /// The Gemini request after route actions, translated once for every Gemini hop.
  var translated: OpenAIFrontTranslation?
}

extension Exchange {
  // MARK: front

  /// The OpenAI front: the same authentication, routes, actions and chain as the Gemini front, with
  /// OpenAI's paths, keys and error shape.
  mutating func runOpenAI() async {
    log(.front(.openai))
    let path = request.path
    guard let call = OpenAICall.parse(httpMethod: request.method, path: path) else {
      await fail(.notFound("no OpenAI API method at \(request.method) \(path)"))
      return
    }
    let key = OpenAICall.presentedKey(request)
    let authentication = snapshot.authenticate(key: key)
    if let failure = authentication.failure {
      log(.call(method: call.method.rawValue, model: call.model))
      await fail(Self.openAIError(for: failure))
      return
    }
    if let index = authentication.clientIndex { log(.client(snapshot.table.clients[index].name)) }
    let client = authentication.clientIndex
    let headers = request.headers.firstValues(of: snapshot.table.matchedHeaderNames)
    switch call.method {
    case .listModels:
      log(.call(method: call.method.rawValue, model: ""))
      let models = ModelCatalog.models(
        for: RequestFacts(client: client, key: key, model: "", headers: headers, front: .openai), table: snapshot.table)
      await respond(200, json: .object(["object": "list", "data": .array(models.map { Self.openAIModel($0.name) })]))
    case .getModel:
      log(.call(method: call.method.rawValue, model: call.model))
      let caller = RequestFacts(client: client, key: key, model: call.model, headers: headers, front: .openai)
      if GeminiCall.modelProblem(call.model) == nil,
        ModelCatalog.model(call.model, for: caller, table: snapshot.table) != nil
      {
        await respond(200, json: Self.openAIModel(call.model))
      } else {
        await fail(.notFound("The model '\(call.model)' does not exist or you do not have access to it."))
      }
    case .embeddings, .chatCompletions:
      await forwardOpenAI(call, key: key, authentication: authentication)
    }
  }

  /// `{id, object: "model", created, owned_by}`.
  static func openAIModel(_ name: String) -> JSONValue {
    .object(["id": .string(name), "object": "model", "created": 0, "owned_by": "louter"])
  }

  /// OpenAI answers a missing or unknown key with 401.
  static func openAIError(for failure: AuthenticationFailure) -> GeminiError {
    switch failure {
    case .missingKey:
      GeminiError(
        .unauthenticated, message: "You didn't provide an API key: send it as 'Authorization: Bearer <key>'.",
        httpStatus: 401)
    case .unknownKey:
      GeminiError(.unauthenticated, message: "Incorrect API key provided.", httpStatus: 401)
    }
  }

  /// A chat or embeddings request: routed like a Gemini `generateContent`/`streamGenerateContent` or
  /// `batchEmbedContents` of the same model.
  mutating func forwardOpenAI(_ call: OpenAICall, key: String?, authentication: Authentication) async {
    let method = call.method
    let body: JSONValue
    do {
      body = try JSONParser.parse(request.body)
    } catch {
      log(.call(method: method.rawValue, model: ""))
      await fail(.invalidArgument("The request body is not valid JSON: \(error.description)"))
      return
    }
    // Azure-style clients name the deployment in the path (and usually in the body too).
    let model = body["model"]?.stringValue ?? call.model
    log(.call(method: method.rawValue, model: model))
    let embeddings = method == .embeddings
    guard case .object = body, embeddings ? body["input"] != nil : body["messages"]?.arrayValue != nil else {
      await fail(
        .invalidArgument("The request body must be an object with 'model' and '\(embeddings ? "input" : "messages")'."))
      return
    }
    if let problem = GeminiCall.modelProblem(model) {
      await fail(.invalidArgument("The model name is not valid: \(problem)."))
      return
    }
    let stream = !embeddings && body["stream"]?.boolValue == true
    let facts = RequestFacts(
      client: authentication.clientIndex, key: key, model: model,
      endpoint: embeddings ? .embed : stream ? .stream : .generate,
      stream: stream, tools: !(body["tools"]?.arrayValue?.isEmpty ?? true), images: Self.carriesImages(body),
      headers: request.headers.firstValues(of: snapshot.table.matchedHeaderNames), front: .openai)
    log(.features(facts))
    switch snapshot.decide(facts, authentication: authentication) {
    case .unauthenticated(let failure):
      await fail(Self.openAIError(for: failure))
    case .noRoute:
      await fail(.notFound("The model '\(model)' does not exist or you do not have access to it."))
    case .denied(let route, let message):
      enterRoute(route, upstreamModel: nil)
      await fail(GeminiError(.permissionDenied, message: message))
    case .routed(let plan):
      enterRoute(plan.route, upstreamModel: plan.model)
      let gemini = GeminiCall(
        version: "v1beta",
        method: embeddings ? .batchEmbedContents : stream ? .streamGenerateContent : .generateContent, model: model)
      var forwarding = Forwarding(call: gemini, plan: plan, body: body, key: key, stream: stream)
      let seconds = Date().timeIntervalSince1970
      forwarding.openAI = OpenAIChat(
        body: body, model: model, stream: stream,
        includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false,
        identity: OpenAIAnswerIdentity(
          id: "chatcmpl-\(record.id)", created: seconds > 0 && seconds < 1e12 ? Int64(seconds) : 0, model: model))
      await forwardWithinLimits(&forwarding, client: authentication.clientIndex)
    }
  }

  /// Whether a user message carries an `image_url` part.
  static func carriesImages(_ body: JSONValue) -> Bool {
    (body["messages"]?.arrayValue ?? []).contains { message in
      (message["content"]?.arrayValue ?? []).contains { $0["type"]?.stringValue == "image_url" }
    }
  }

  // MARK: OpenAI backend: passthrough

  /// The OpenAI names of the generation parameters a route clamps; `maxTokens` is the name inserted for a
  /// default (`max_completion_tokens` unless the backend says `max_tokens`).
  static func openAINames(maxTokens: String) -> (GenerationParameter) -> [String]? {
    { parameter in
      switch parameter {
      case .temperature: ["temperature"]
      case .topP: ["top_p"]
      case .topK: nil
      case .maxOutputTokens:
        maxTokens == "max_tokens" ? ["max_tokens", "max_completion_tokens"] : ["max_completion_tokens", "max_tokens"]
      case .candidateCount: ["n"]
      case .presencePenalty: ["presence_penalty"]
      case .frequencyPenalty: ["frequency_penalty"]
      }
    }
  }

  /// The client's chat body with only what a route action changes rewritten (model, system message,
  /// clamped parameters); every other byte stays.
  static func openAIPatchedBody(
    _ original: [UInt8], json: JSONValue, plan: ForwardPlan, maxTokens: String, chat: Bool = true
  ) throws(JSONParseError) -> [UInt8] {
    var edits: [JSONPatch.MemberEdit] = []
    if json["model"]?.stringValue != plan.model { edits.append(.set(["model"], to: .string(plan.model))) }
    // An embeddings request has no messages and no generation parameters.
    if let action = plan.systemPrompt, chat {
      edits.append(JSONPatch.MemberEdit(keys: ["messages"]) { RouteActions.systemMessages($0, action: action) })
    }
    if chat,
      case .object(let clamped)? = RouteActions.generationConfig(
        json, rules: plan.generation, names: openAINames(maxTokens: maxTokens))
    {
      for member in clamped where json[member.key] != member.value {
        edits.append(.set([member.key], to: member.value))
      }
    }
    return edits.isEmpty ? original : try JSONPatch.apply(edits, to: original)
  }

  /// One hop of an OpenAI request to an OpenAI (or echo) backend: the client's bytes as patched by the
  /// route's actions, the answer relayed as it comes.
  mutating func openAIPassthroughHop(_ runtime: BackendRuntime, _ forwarding: inout Forwarding) async -> HopResult {
    let backend = runtime.backend
    guard let chat = forwarding.openAI else { return await translatedHop(runtime, &forwarding) }
    let embeddings = forwarding.call.method == .batchEmbedContents
    // Patched per hop: a default for max tokens is inserted under each backend's own field name.
    let body: [UInt8]
    do {
      let patched = try Self.openAIPatchedBody(
        request.body, json: chat.body, plan: forwarding.plan, maxTokens: backend.maxTokensField, chat: !embeddings)
      body =
        try forwarding.resume.map { resume throws(JSONParseError) in try resume.withAssistantPrefill(bytes: patched) }
        ?? patched
    } catch {
      return .failed(
        HopFailure(
          backend: backend.name, fault: .rejected, error: .invalidArgument("The request body is not valid JSON."),
          outcome: "400"))
    }
    let upstream = Result { () throws(HopFailure) in
      upstreamRequest(
        backend,
        url: try runtime.openAI.url(embeddings ? .embeddings : .chat, backend, model: forwarding.plan.model),
        headers: try runtime.openAI.headers(backend, key: forwarding.key, stream: chat.stream), body: body)
    }
    let (response, hopStarted): (UpstreamResponse, MonotonicInstant)
    switch await startHop(mode: backend.protocolName.rawValue, upstream, via: runtime, gemini: false) {
    case .success(let hop): (response, hopStarted) = hop
    case .failure(let failure): return .failed(failure)
    }
    let contentType =
      response.head.headers["content-type"].flatMap { try? HeaderValue($0).text } ?? "application/json"
    let headers: [(String, String)] = [("x-louter-backend", backend.name)]
    if !chat.stream {
      let (bytes, json): ([UInt8], JSONValue)
      switch await Self.readJSONAnswer(response, backend: backend.name) {
      case .success(let answer): (bytes, json) = answer
      case .failure(let failure): return .failed(failure)
      }
      noteUsage(GeminiUsageCounts(openAI: json["usage"]))
      await respond(200, body: bytes, contentType: contentType, headers: headers, tokens: true)
      return .served(healthy: true)
    }
    if let resume = forwarding.resume {
      let form = ResumedOpenAIPassthroughForm(backend: backend.name, resume: resume)
      return await relay(
        response.body, form: form, backend: backend, hopStarted: hopStarted, headers: headers, forwarding)
    }
    let form = OpenAIPassthroughStreamForm(backend: backend.name)
    return await relay(
      response.body, form: form, backend: backend, hopStarted: hopStarted, headers: headers, forwarding)
  }

  // MARK: Gemini backend: translated

  /// One hop of an OpenAI request to a Gemini backend: translated there and back, the translation done
  /// once for the whole chain.
  mutating func openAIToGeminiHop(_ runtime: BackendRuntime, _ forwarding: inout Forwarding) async -> HopResult {
    let backend = runtime.backend
    guard var chat = forwarding.openAI else { return await passthroughHop(runtime, &forwarding) }
    if forwarding.call.method == .batchEmbedContents {
      return await openAIEmbeddingsToGeminiHop(runtime, chat, forwarding)
    }
    let translation: OpenAIFrontTranslation
    if let cached = chat.translated {
      translation = cached
    } else {
      do {
        var translated = try OpenAIFrontRequest.translate(chat.body, model: forwarding.plan.model)
        translated.body = RouteActions.apply(forwarding.plan, to: translated.body)
        if let resume = forwarding.resume { translated.body = resume.withPrefill(translated.body) }
        translation = translated
      } catch {
        return .failed(HopFailure(backend: backend.name, fault: .rejected, error: error.geminiError, outcome: "400"))
      }
      chat.translated = translation
      forwarding.openAI = chat
    }
    let upstream = Result { () throws(HopFailure) in
      try geminiRequest(
        backend, version: "v1beta", model: forwarding.plan.model, method: forwarding.call.method.rawValue,
        query: chat.stream ? [QueryItem("alt", "sse")] : [], key: forwarding.key,
        body: translation.body.serializedBytes())
    }
    let (response, hopStarted): (UpstreamResponse, MonotonicInstant)
    switch await startHop(mode: "gemini", upstream, via: runtime, gemini: true) {
    case .success(let hop): (response, hopStarted) = hop
    case .failure(let failure): return .failed(failure)
    }
    var headers: [(String, String)] = [("x-louter-backend", backend.name)]
    if let warning = translation.warnings.headerValue { headers.append(("x-louter-warning", warning)) }
    if !chat.stream {
      let json: JSONValue
      switch await Self.readJSONAnswer(response, backend: backend.name) {
      case .success(let answer): json = answer.json
      case .failure(let failure): return .failed(failure)
      }
      let answer: JSONValue
      do {
        answer = try OpenAIFrontResponse.completion(json, identity: chat.identity, callID: ToolCallID.make)
      } catch {
        return .failed(HopFailure(backend: backend.name, fault: .rejected, error: error, outcome: "blocked"))
      }
      noteUsage(json["usageMetadata"])
      await respond(200, json: answer, headers: headers, tokens: true)
      return .served(healthy: true)
    }
    let form = GeminiToOpenAIStreamForm(
      backend: backend.name, stream: OpenAIFrontStream(identity: chat.identity, includeUsage: chat.includeUsage),
      resume: forwarding.resume)
    return await relay(
      response.body, form: form, backend: backend, hopStarted: hopStarted, headers: headers, forwarding)
  }
}

extension Exchange {
  /// `POST /v1/embeddings` to a Gemini backend, as one `batchEmbedContents`.
  mutating func openAIEmbeddingsToGeminiHop(_ runtime: BackendRuntime, _ chat: OpenAIChat, _ forwarding: Forwarding)
    async -> HopResult
  {
    let backend = runtime.backend
    let translated: OpenAIFrontEmbeddings.Request
    do {
      translated = try OpenAIFrontEmbeddings.geminiRequest(chat.body, model: forwarding.plan.model)
    } catch {
      return .failed(HopFailure(backend: backend.name, fault: .rejected, error: error.geminiError, outcome: "400"))
    }
    let upstream = Result { () throws(HopFailure) in
      try geminiRequest(
        backend, version: "v1beta", model: forwarding.plan.model, method: "batchEmbedContents", key: forwarding.key,
        body: translated.body.serializedBytes())
    }
    let response: UpstreamResponse
    switch await startHop(mode: "gemini", upstream, via: runtime, gemini: true) {
    case .success(let hop): response = hop.response
    case .failure(let failure): return .failed(failure)
    }
    let bytes: [UInt8]
    switch await Self.readAnswer(response, backend: backend.name) {
    case .success(let answer): bytes = answer
    case .failure(let failure): return .failed(failure)
    }
    // Gemini's batch answer counts no tokens: louter's estimate, as for countTokens.
    let inputs = chat.body["input"]?.arrayValue ?? [chat.body["input"] ?? .null]
    let tokens = inputs.reduce(Int64(0)) { sum, input in
      BoundedInteger.sum(
        sum, Int64(TokenEstimator.tokens(input.stringValue ?? "")), in: OpenAIToGemini.tokenCountRange)
    }
    let answer: JSONValue
    do {
      answer = try OpenAIFrontEmbeddings.openAIResponse(
        JSONParser.parse(bytes), request: translated, model: chat.model, estimatedTokens: tokens)
    } catch let error as GeminiError {
      return .failed(Self.badAnswer(error, backend: backend.name))
    } catch {
      return .failed(
        Self.badAnswer(Self.notJSON("a body that is not JSON", backend: backend.name), backend: backend.name))
    }
    var headers: [(String, String)] = [("x-louter-backend", backend.name)]
    if let warning = translated.warnings.headerValue { headers.append(("x-louter-warning", warning)) }
    await respond(200, json: answer, headers: headers)
    return .served(healthy: true)
  }
}

/// Fresh tool-call ids (`call_` and 24 random characters): unique even when one function is called twice.
enum ToolCallID {
  /// A new id from the system CSPRNG.
  static func make() -> String {
    var generator = SystemRandomNumberGenerator()
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
    var bytes = Array("call_".utf8)
    for _ in 0..<24 { bytes.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))]) }
    return String(decoding: bytes, as: UTF8.self)
  }
}

// MARK: stream forms

/// An OpenAI backend's chat stream relayed to an OpenAI client as it comes, whole SSE events only.
struct OpenAIPassthroughStreamForm: StreamForm {
  let backend: String
  var framer = SSEEventFramer(allowsDone: true)
  /// The backend's own error event went out with the relayed bytes: the client needs no second one.
  var relayedError = false
  /// A chunk was read: the relay has committed the stream by the time it writes the next bytes.
  var sawChunk = false

  init(backend: String) { self.backend = backend }

  var contentType: String { "text/event-stream" }

  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece {
    var piece = RelayPiece()
    do {
      let framed = try framer.feed(chunk ?? [])
      piece.bytes = framed.bytes
      // Each chunk counts as an answer (the relay commits on the first); its usage in Gemini's names.
      for event in framed.events {
        if event["error"] != nil {
          // The backend's in-band error: before the first chunk it is the hop's failure (the chain goes on);
          // after it the event is relayed as it is and ends the stream.
          let error = UpstreamErrorMapper.mapStreamError(event, backend: backend)
          piece.failure = Exchange.failure(
            status: error.code, retryAfter: nil, error: error, backend: backend, outcome: "stream-error")
          relayedError = sawChunk
          return piece
        }
        sawChunk = true
        piece.answers.append(.json(Self.recordAnswer(event)))
      }
    } catch {
      piece.failure = Exchange.unreadable(error, backend: backend)
      return piece
    }
    if chunk == nil, framer.holdsPartialEvent || !framer.sawDone {
      // Without [DONE] the SDK would return a cut answer as if whole: end it with an error event instead.
      piece.failure = Exchange.badAnswer(
        .unavailable("backend '\(backend)' ended the stream before [DONE]"), backend: backend)
    }
    return piece
  }

  mutating func errorBytes(_ error: GeminiError) -> [UInt8] {
    relayedError ? [] : OpenAIWire.event(OpenAIWire.errorJSON(error))
  }

  /// What the request record reads from a chunk, in Gemini's names: its usage, and its text (for the
  /// token estimate when the backend sends no usage).
  static func recordAnswer(_ chunk: JSONValue) -> JSONValue {
    var members: [JSONMember] = []
    let text = (chunk["choices"]?.arrayValue ?? []).compactMap { $0["delta"]?["content"]?.stringValue }.joined()
    var parts: [JSONValue] = text.isEmpty ? [] : [.object(["text": .string(text)])]
    // A tool call streamed so far makes the answer one another backend cannot continue.
    let calls = (chunk["choices"]?.arrayValue ?? []).contains {
      !($0["delta"]?["tool_calls"]?.arrayValue ?? []).isEmpty
    }
    if calls { parts.append(.object(["functionCall": .object([:])])) }
    if !parts.isEmpty {
      members.append(JSONMember("candidates", [.object(["content": .object(["parts": .array(parts)])])]))
    }
    if let usage = OpenAIToGemini.usageMetadata(chunk["usage"]) { members.append(JSONMember("usageMetadata", usage)) }
    return .object(members)
  }

  // The backend's own [DONE] was relayed with its last event.
  mutating func end() -> [UInt8] { [] }
}

/// A Gemini backend's SSE stream translated into `chat.completion.chunk` events.
struct GeminiToOpenAIStreamForm: StreamForm {
  let backend: String
  var parser = SSEParser()
  var stream: OpenAIFrontStream
  /// When this stream continues an answer another backend began: usage counts the whole answer.
  let resume: StreamResume?

  init(backend: String, stream: OpenAIFrontStream, resume: StreamResume? = nil) {
    self.backend = backend
    self.stream = stream
    self.resume = resume
  }

  var contentType: String { "text/event-stream" }

  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece {
    var piece = RelayPiece()
    for event in chunk.map({ parser.feed($0) }) ?? parser.finish() {
      var json: JSONValue
      do {
        json = try JSONParser.parse(event.data)
        if let resume { json = resume.patched(json) }
      } catch {
        piece.failure = Exchange.badAnswer(
          Exchange.notJSON("an event that is not JSON", backend: backend), backend: backend)
        return piece
      }
      if json["error"] != nil {
        let error = UpstreamErrorMapper.mapStreamError(json, backend: backend)
        piece.failure = Exchange.failure(
          status: error.code, retryAfter: nil, error: error, backend: backend, outcome: "stream-error")
        return piece
      }
      do {
        for out in try stream.consume(json, callID: ToolCallID.make) { piece.bytes += OpenAIWire.event(out) }
      } catch {
        piece.failure = HopFailure(backend: backend, fault: .rejected, error: error, outcome: "blocked")
        return piece
      }
      piece.answers.append(.json(json))
    }
    if chunk == nil, !stream.isComplete {
      piece.failure = Exchange.badAnswer(
        .unavailable("backend '\(backend)' ended the stream before the answer finished"), backend: backend)
    }
    return piece
  }

  mutating func errorBytes(_ error: GeminiError) -> [UInt8] { OpenAIWire.event(OpenAIWire.errorJSON(error)) }

  mutating func end() -> [UInt8] { stream.finish().flatMap(OpenAIWire.event) + OpenAIWire.done }
}

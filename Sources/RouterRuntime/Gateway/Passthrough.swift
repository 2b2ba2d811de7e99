import RouteCompiler
import RouteSpec

extension Exchange {
  /// The client's body with only the members a route action changes rewritten; every other byte stays.
  static func patchedBody(_ original: [UInt8], plan: ForwardPlan, method: GeminiCall.Method) throws(JSONParseError)
    -> [UInt8]
  {
    var edits: [JSONPatch.MemberEdit] = []
    if let action = plan.systemPrompt, method == .generateContent || method == .streamGenerateContent {
      edits.append(
        JSONPatch.MemberEdit(keys: RouteActions.systemInstructionKeys) { existing in
          RouteActions.systemInstruction(existing, action: action)
        })
    }
    if !plan.generation.isEmpty, method == .generateContent || method == .streamGenerateContent {
      let rules = plan.generation
      edits.append(
        JSONPatch.MemberEdit(keys: RouteActions.generationConfigKeys) { existing in
          RouteActions.generationConfig(existing, rules: rules) ?? existing
        })
    }
    return edits.isEmpty ? original : try JSONPatch.apply(edits, to: original)
  }

  mutating func passthroughHop(_ runtime: BackendRuntime, _ forwarding: inout Forwarding) async -> HopResult {
    let backend = runtime.backend
    let body: [UInt8]
    if let cached = forwarding.passthroughBody {
      body = cached
    } else {
      do {
        let patched = try Self.patchedBody(request.body, plan: forwarding.plan, method: forwarding.call.method)
        body =
          try forwarding.resume.map { resume throws(JSONParseError) in try resume.withPrefill(bytes: patched) }
          ?? patched
      } catch {
        return .failed(
          HopFailure(
            backend: backend.name, fault: .rejected, error: .invalidArgument("Invalid JSON payload received. \(error)"),
            outcome: "400"))
      }
      forwarding.passthroughBody = body
    }
    let upstream = Result { () throws(HopFailure) in try passthroughRequest(backend, forwarding, body: body) }
    let (response, hopStarted): (UpstreamResponse, MonotonicInstant)
    switch await startHop(mode: "gemini", upstream, via: runtime, gemini: true) {
    case .success(let hop): (response, hopStarted) = hop
    case .failure(let failure): return .failed(failure)
    }
    // The backend's bytes are as hostile as the client's: a bare CR in its content-type is not relayed.
    let contentType =
      response.head.headers["content-type"].flatMap { try? HeaderValue($0).text } ?? "application/json; charset=UTF-8"
    let answerHeaders: [(String, String)] = [("x-louter-backend", backend.name)]
    if !forwarding.stream {
      let (bytes, json): ([UInt8], JSONValue)
      switch await Self.readJSONAnswer(response, backend: backend.name) {
      case .success(let answer): (bytes, json) = answer
      case .failure(let failure): return .failed(failure)
      }
      noteUsage(json["usageMetadata"])
      await respond(
        200, body: CandidateParts.patched(bytes, answer: json) ?? bytes, contentType: contentType,
        headers: answerHeaders, tokens: true)
      return .served(healthy: true)
    }
    // Relay the bytes as they come, whole events only; parse a copy of each to learn the usage and to give
    // a content without parts its empty text part.
    let sse = forwarding.call.isSSE(request: request)
    if let resume = forwarding.resume {
      // Continuing another backend's answer: its events are written in the client's framing, not relayed.
      let form = ResumedPassthroughForm(backend: backend.name, resume: resume, upstreamSSE: sse)
      return await relay(
        response.body, form: form, backend: backend, hopStarted: hopStarted, headers: answerHeaders, forwarding)
    }
    let form = PassthroughStreamForm(backend: backend.name, contentType: contentType, sse: sse)
    return await relay(
      response.body, form: form, backend: backend, hopStarted: hopStarted, headers: answerHeaders, forwarding)
  }

  /// `POST {base}/{version}/models/{model}:{method}?{query}`: the model is one encoded path segment, the
  /// client's query pairs are decoded and encoded again without `key` (in any spelling), and the key goes in
  /// `x-goog-api-key`.
  func passthroughRequest(_ backend: CompiledBackend, _ forwarding: Forwarding, body: [UInt8]) throws(HopFailure)
    -> UpstreamRequest
  {
    guard let items = QueryString.items(request.query) else {
      throw Self.clientFault(
        UpstreamTargetError(.query, "has a malformed percent escape"), backend: backend.name)
    }
    return try geminiRequest(
      backend, version: forwarding.call.version, model: forwarding.plan.model, method: forwarding.call.method.rawValue,
      query: items.filter { $0.name != "key" }, key: forwarding.key, body: body)
  }

}

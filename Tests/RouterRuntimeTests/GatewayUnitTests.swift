import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

@Suite struct GeminiCallTests {
  @Test func parsesMethodsAndModelsWithColonsAndSlashes() {
    #expect(
      GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/gemini-2.5-flash:generateContent")
        == GeminiCall(version: "v1beta", method: .generateContent, model: "gemini-2.5-flash"))
    #expect(
      GeminiCall.parse(httpMethod: "POST", path: "/v1/models/llama3.2:3b:streamGenerateContent")
        == GeminiCall(version: "v1", method: .streamGenerateContent, model: "llama3.2:3b"))
    #expect(
      GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/openai%2Fgpt-4o%3AcountTokens")
        == GeminiCall(version: "v1beta", method: .countTokens, model: "openai/gpt-4o"))
    #expect(GeminiCall.parse(httpMethod: "GET", path: "/v1beta/models")?.method == .listModels)
    #expect(GeminiCall.parse(httpMethod: "GET", path: "/v1/models/llama3.2:3b")?.model == "llama3.2:3b")
    #expect(GeminiCall.parse(httpMethod: "GET", path: "/v1/models/m:generateContent") == nil)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v2/models/m:generateContent") == nil)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/../x:generateContent") == nil)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/bad%zz:generateContent") == nil)
  }

  /// Every POST method is called by its own name after the colon; the GETs' names are not methods there.
  @Test func everyPostMethodIsCalledByItsName() {
    for method in GeminiCall.Method.allCases {
      let call = GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/m:\(method.rawValue)")
      switch method {
      case .listModels, .getModel: #expect(call == nil, "\(method)")
      default: #expect(call == GeminiCall(version: "v1beta", method: method, model: "m"), "\(method)")
      }
    }
  }

  /// Each broken rule of the model-id grammar is named, the first of them when several are broken.
  @Test func modelProblemsAreNamedInOrder() {
    let disallowed = "only letters, digits and - _ . : @ / may appear in it (no spaces, control characters or %)"
    let cases: [(String, String?)] = [
      ("gemini-2.5-flash", nil), ("openai/gpt-4o", nil), ("llama3.2:3b", nil), ("c@2024", nil), ("a.b/c.d", nil),
      ("", "it is empty"), (String(repeating: "m", count: 257), "it is longer than 256 bytes"),
      (String(repeating: "m", count: 256), nil),
      ("a b", disallowed), ("a~b", disallowed), ("é", disallowed), ("a%2e", disallowed), ("a b..//", disallowed),
      ("a..b", "it may not contain '..'"), ("../a", "it may not contain '..'"), ("a/..", "it may not contain '..'"),
      ("/a", "'/' may only separate two non-empty parts"), ("a/", "'/' may only separate two non-empty parts"),
      ("a//b", "'/' may only separate two non-empty parts"), ("/", "'/' may only separate two non-empty parts"),
      ("a..b//c", "it may not contain '..'"), ("a\u{0}b", disallowed),
    ]
    for (model, problem) in cases {
      #expect(GeminiCall.modelProblem(model) == problem, "\(model)")
    }
  }

  @Test func readsThePathAsBytesAtItsEdges() throws {
    // The list with and without its slash, and only with GET.
    #expect(GeminiCall.parse(httpMethod: "GET", path: "/v1alpha/models/")?.method == .listModels)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models") == nil)
    // The id's own `models/` prefix once more; the version segment whole, never a prefix of one.
    #expect(
      GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/models/m:embedContent")
        == GeminiCall(version: "v1beta", method: .embedContent, model: "m"))
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1bet/models/m:generateContent") == nil)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "v1beta/models/m:generateContent") == nil)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1beta") == nil)
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1beta/tunedModels/m:generateContent") == nil)
    // A method name only after the last colon, and the whole name: else the colon is part of a GET's id.
    #expect(
      GeminiCall.parse(httpMethod: "GET", path: "/v1/models/m:generateContentX")
        == GeminiCall(version: "v1", method: .getModel, model: "m:generateContentX"))
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1/models/m:listModels") == nil)
    // A non-ASCII id is a 400, not a route miss; an empty one too.
    #expect(throws: GeminiError.self) {
      try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/mod%C3%A9l:generateContent")
    }
    #expect(throws: GeminiError.self) { try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/:countTokens") }
  }

  @Test func readsKeysFromTheQueryAndRemovesThem() {
    #expect(QueryString.value("key", in: "alt=sse&key=abc%2B1") == "abc+1")
    #expect(QueryString.removing(["key"], from: "key=abc&alt=sse") == "alt=sse")
    #expect(QueryString.removing(["key"], from: "key=abc") == nil)
  }

  /// The byte scan reads every query as the earlier `Character` split read it (kept here as the reference), on
  /// the queries a request target can carry: visible ASCII.
  @Test func queryLookupsReadWhatTheCharacterSplitRead() {
    func referenceValue(_ name: String, in query: String?) -> String? {
      guard let query else { return nil }
      for pair in query.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count >= 1, parts[0] == name else { continue }
        let raw = parts.count == 2 ? String(parts[1]) : ""
        return GeminiCall.percentDecoded(raw.replacingAll("+", with: " ")) ?? raw
      }
      return nil
    }
    func referenceItems(_ query: String?) -> [QueryItem]? {
      guard let query else { return [] }
      var items: [QueryItem] = []
      for pair in query.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard let name = GeminiCall.percentDecoded(String(parts[0]).replacingAll("+", with: " ")) else { return nil }
        var value: String?
        if parts.count == 2 {
          guard let decoded = GeminiCall.percentDecoded(String(parts[1]).replacingAll("+", with: " ")) else {
            return nil
          }
          value = decoded
        }
        items.append(QueryItem(name, value))
      }
      return items
    }
    let queries: [String?] = [
      nil, "", "&", "&&", "alt=sse", "alt=SSE&key=k", "$alt=json;enum-encoding=int", "%24alt=sse", "key=a+b%20c",
      "key=%zz", "key", "key=", "=x", "=", "&&alt=sse&&key=1&&", "a=1=2", "key=%E2%9C%93", "key=%FF", "key=%2",
      "k%65y=x&key=y", "key=1&key=2", "pageSize=5&pageToken=a%2Bb+c", "alt=sse&alt=json", "x=+%2B+", "a+b=c",
    ]
    for query in queries {
      for name in ["alt", "$alt", "%24alt", "key", "k%65y", "pageSize", "pageToken", "", "a+b", "a b", "x"] {
        #expect(QueryString.value(name, in: query) == referenceValue(name, in: query), "\(name) in \(query ?? "nil")")
      }
      #expect(QueryString.items(query) == referenceItems(query), "\(query ?? "nil")")
    }
    // Every query of up to three bytes from an alphabet of the characters that matter.
    let alphabet = Array("a=&+%2".utf8)
    var query: [UInt8] = []
    func each(_ length: Int) {
      guard length > 0 else {
        let text = String(decoding: query, as: UTF8.self)
        #expect(QueryString.value("a", in: text) == referenceValue("a", in: text), "\(text)")
        #expect(QueryString.items(text) == referenceItems(text), "\(text)")
        return
      }
      for byte in alphabet {
        query.append(byte)
        each(length - 1)
        query.removeLast()
      }
    }
    for length in 0...3 { each(length) }
    #expect(GeminiAlt.parse(query: "key=k&alt=SSE") == GeminiAlt(sse: true, integerEnums: false))
    #expect(GeminiAlt.parse(query: "%24alt=json%3B%20enum-encoding%3Dint") == GeminiAlt(sse: false, integerEnums: true))
  }
}

@Suite struct RouteActionTests {
  @Test func systemPromptPrependsAppendsAndReplaces() {
    let existing: JSONValue = .object(["role": "user", "parts": [.object(["text": "client"])]])
    #expect(
      RouteActions.systemInstruction(existing, action: .prepend("route"))
        == .object(["role": "user", "parts": [.object(["text": "route"]), .object(["text": "client"])]]))
    #expect(
      RouteActions.systemInstruction(existing, action: .append("route"))
        == .object(["role": "user", "parts": [.object(["text": "client"]), .object(["text": "route"])]]))
    #expect(
      RouteActions.systemInstruction(existing, action: .replace("route"))
        == .object(["role": "user", "parts": [.object(["text": "route"])]]))
    #expect(RouteActions.systemInstruction(nil, action: .prepend("r")) == .object(["parts": [.object(["text": "r"])]]))
  }

  @Test func generationRulesClampAndDefault() {
    let rules = [
      GenerationRule(parameter: .maxOutputTokens, rule: ParameterRule(max: 100)),
      GenerationRule(parameter: .temperature, rule: ParameterRule(defaultValue: 0.2)),
    ]
    let clamped = RouteActions.generationConfig(.object(["maxOutputTokens": 5000]), rules: rules)
    #expect(clamped == .object(["maxOutputTokens": 100, "temperature": 0.2]))
    let snake = RouteActions.generationConfig(.object(["max_output_tokens": 50, "temperature": 1.0]), rules: rules)
    #expect(snake == nil, "values inside the rules change nothing")
  }
}

@Suite struct BackendHealthTests {
  @Test func busyAtTheConcurrencyLimit() {
    let health = BackendHealth(limit: 2)
    #expect(health.acquire() == nil)
    #expect(health.acquire() == nil)
    #expect(health.acquire() == .busy(limit: 2))
    health.release(healthy: true)
    #expect(health.acquire() == nil)
  }

  @Test func opensAfterRepeatedFailuresThenLetsOneProbeThrough() {
    let health = BackendHealth(limit: 10, failureThreshold: 3, coolDown: .seconds(10))
    let start = MonotonicInstant.now
    for _ in 0..<3 {
      #expect(health.acquire(now: start) == nil)
      health.release(healthy: false, now: start)
    }
    guard case .coolingDown? = health.acquire(now: start.advanced(by: .seconds(5))) else {
      Issue.record("expected the circuit to be open")
      return
    }
    #expect(health.acquire(now: start.advanced(by: .seconds(5)), lastResort: true) == nil, "a last resort is tried")
    health.release(healthy: nil)
    let later = start.advanced(by: .seconds(11))
    #expect(health.acquire(now: later) == nil, "half-open: one probe")
    #expect(health.acquire(now: later) != nil, "only one probe at a time")
    health.release(healthy: true, now: later)
    #expect(health.acquire(now: later) == nil, "closed again after a good probe")
  }
}

@Suite struct EchoTransportTests {
  func send(_ body: String, path: String = "/chat/completions") async throws -> (Int, String) {
    let request = UpstreamRequest(
      method: "POST", url: "echo://local\(path)", headers: [], body: Array(body.utf8), connectTimeout: .seconds(1),
      firstByteTimeout: .seconds(1), streamIdleTimeout: .seconds(1), totalTimeout: .seconds(1))
    let response = try await EchoTransport().send(request)
    var data: [UInt8] = []
    while let chunk = try await response.body.next() { data += chunk }
    return (response.head.status, String(decoding: data, as: UTF8.self))
  }

  @Test func streamsTheLastUserTextWordByWordWithHonestCounts() async throws {
    let (status, text) = try await send(
      #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"one  two three"}]}"#
    )
    #expect(status == 200)
    let events = text.split(separator: "\n\n").map { $0.dropFirst("data: ".count) }
    #expect(events.last == "[DONE]")
    var joined = ""
    for event in events.dropLast() {
      let json = try JSONParser.parse(String(event))
      joined += json["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue ?? ""
    }
    #expect(joined == "one  two three")
    #expect(text.contains(#""usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}"#))
    #expect(text.contains(#""finish_reason":"stop""#))
  }

  @Test func cutsAtMaxTokensAndAnswersWholeWhenNotStreaming() async throws {
    let (_, text) = try await send(#"{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"a b c d"}]}"#)
    let json = try JSONParser.parse(text)
    #expect(json["choices"]?.arrayValue?.first?["message"]?["content"] == "a b")
    #expect(json["choices"]?.arrayValue?.first?["finish_reason"] == "length")
    let (status, _) = try await send("{broken")
    #expect(status == 400)
    let (embedStatus, embeddings) = try await send(#"{"model":"m","input":["x","y"]}"#, path: "/embeddings")
    #expect(embedStatus == 200)
    #expect(try JSONParser.parse(embeddings)["data"]?.arrayValue?.count == 2)
  }
}

@Suite struct RequestRecordTests {
  @Test func verboseLineNamesEverything() {
    var record = RequestRecord(id: "abc")
    record.client = "team-a"
    record.route = "r"
    record.hops = [.init(backend: "openai", outcome: "503"), .init(backend: "azure", outcome: "ok")]
    record.mode = "openai"
    record.method = "streamGenerateContent"
    record.model = "gemini-2.5-pro"
    record.upstreamModel = "gpt-4o"
    record.status = 200
    record.timeToFirstToken = 0.1
    record.total = 1.1
    record.inputTokens = 10
    record.outputTokens = 50
    record.streamed = true
    #expect(
      record.line
        == "req=abc client=team-a route=r tried=openai(503),azure mode=openai streamGenerateContent model=gemini-2.5-pro->gpt-4o status=200 ttft=100.0ms total=1100.0ms tokens=10/50 tps=50.0"
    )
  }
}

@Suite struct RequestIDTests {
  @Test func idsAreSixteenHexDigitsAndNeverRepeatWithinAProcess() {
    let ids = (0..<20_000).map { RequestID.format(mixing: UInt64($0)) }
    #expect(Set(ids).count == ids.count)
    let hexDigits = Set("0123456789abcdef".utf8)
    #expect(ids.allSatisfy { $0.utf8.count == 16 && $0.utf8.allSatisfy(hexDigits.contains) })
    // Consecutive requests do not get consecutive-looking ids: the low digits of neighbours differ.
    #expect(Set(ids.prefix(64).map { $0.prefix(4) }).count > 60)
    let made = (0..<1000).map { _ in RequestID.make() }
    #expect(Set(made).count == made.count)
  }
}

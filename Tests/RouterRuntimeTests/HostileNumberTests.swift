import RouteCompiler
import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// Hostile numbers from clients and backends: each used to trap (SIGILL) or allocate by the value.
@Suite(.serialized, .timeLimit(.minutes(1))) struct HostileNumberTests {
  private func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

  // MARK: defect 1: an error body with "code": 1e300

  @Test func anUpstreamErrorCodeOf1e300IsKeptAsText() throws {
    let body = #"{"error":{"message":"boom","type":"server_error","code":1e300}}"#
    #expect(UpstreamErrorMapper.readBody(Array(body.utf8)).code == "1e+300")
    guard case .error(let mapped) = UpstreamErrorMapper.map(status: 500, body: Array(body.utf8), backend: "b") else {
      Issue.record("a 500 must map to an error")
      return
    }
    #expect(mapped.code == 500)
    // The same body inside a 200 answer and as a stream event.
    #expect(throws: GeminiError.self) { try OpenAIToGemini.translate(json(body), options: trResponseOptions) }
    let streamed = UpstreamErrorMapper.mapStreamError(try json(body), backend: "b")
    #expect(streamed.code == 500)
    #expect(UpstreamErrorMapper.readBody(Array(#"{"error":{"message":"m","code":-0.0}}"#.utf8)).code == "0")
  }

  /// Found by the `openai-stream` fuzz target: an integer literal past Int64 is parsed as a double and trapped
  /// in the same conversion, reached through a stream's error event.
  @Test func aFuzzFoundIntegerPastInt64InAStreamErrorIsKeptAsText() throws {
    let event = #"{"error":{"message":"m","code":5092233720368547758074}}"#
    let streamed = UpstreamErrorMapper.mapStreamError(try json(event), backend: "b")
    #expect(streamed.code == 500)
    #expect(UpstreamErrorMapper.readBody(Array(event.utf8)).code == "5.092233720368548e+21")
  }

  // MARK: defect 2: Retry-After: 1e300

  @Test func aHugeRetryAfterIsIgnoredOrClamped() {
    // Not 1*DIGIT: ignored, like an HTTP-date.
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: "1e300") == nil)
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: "inf") == nil)
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: "-5") == nil)
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: nil, milliseconds: "1e300") == nil)
    // Valid but absurd: clamped to a day.
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: String(repeating: "9", count: 400)) == "86400s")
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: nil, milliseconds: "99999999999999999999") == "86400s")
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: nil, milliseconds: "2500.9") == "2.500s")
    let body = Array(#"{"error":{"message":"quota","type":"rate_limit_error"}}"#.utf8)
    guard case .error(let mapped) = UpstreamErrorMapper.map(status: 429, body: body, retryAfter: "1e300", backend: "b")
    else {
      Issue.record("a 429 must map to an error")
      return
    }
    #expect(mapped.code == 429)
    #expect(!mapped.json.serialized().contains("RetryInfo"))
  }

  // MARK: defect 3: usage counts near Int64.max

  @Test func openAIUsageNearInt64MaxIsClampedNotSummedIntoATrap() throws {
    let body = """
      {"choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807,
                "completion_tokens_details":{"reasoning_tokens":-9223372036854775808},
                "prompt_tokens_details":{"cached_tokens":1e300}}}
      """
    let answer = try OpenAIToGemini.translate(json(body), options: trResponseOptions)
    let usage = answer.json["usageMetadata"]
    let max = JSONValue.int(Int64(Int32.max))
    #expect(usage?["promptTokenCount"] == max)
    #expect(usage?["candidatesTokenCount"] == max)
    #expect(usage?["totalTokenCount"] == max)
    #expect(usage?["cachedContentTokenCount"] == max)
    #expect(usage?["thoughtsTokenCount"] == nil)
  }

  @Test func geminiUsageNearInt64MaxIsClampedInTheRequestRecord() async throws {
    let gemini = try FakeBackend(
      FakeBackend.json(
        200,
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}],"#
          + #""usageMetadata":{"promptTokenCount":1e300,"candidatesTokenCount":9223372036854775807,"#
          + #""thoughtsTokenCount":9223372036854775807}}"#))
    let routes =
      "[server]\nauth = \"none\"\n[backends.g]\nprotocol = \"gemini\"\nurl = \"http://127.0.0.1:\(gemini.port)\"\n"
      + "[[routes]]\nbackends = [\"g\"]\n"
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array(routes.utf8))
    let (syntax, _) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let table = try #require(RouteCompiler.compile([syntax], sources: sources, mode: .serve, environment: [:]).table)
    let records = Mutex<[RequestRecord]>([])
    let logged = Latch()
    let gateway = Gateway(
      table: table, transport: TransportFactory.make,
      sink: { record in
        records.withLock { $0.append(record) }
        logged.open()
      })
    let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: gateway)
    let port = try server.start()
    let client = try TestClient(port: port)
    let body = GatewayTests.hello
    client.send(
      "POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
    let answer = String(decoding: await client.readToEnd(), as: UTF8.self)
    await logged.wait()
    #expect(answer.hasPrefix("HTTP/1.1 200"))
    let record = try #require(records.withLock { $0.first })
    #expect(record.inputTokens == Int(Int32.max))
    #expect(record.outputTokens == Int(Int32.max))
    await server.shutdown(gracePeriod: .milliseconds(100))
    await gemini.server.shutdown(gracePeriod: .milliseconds(100))
  }

  // MARK: defect 4: a tool-call index of 100000000000

  @Test func aHugeToolCallIndexIsAKeyNotAnAllocation() {
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    let chunk =
      #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":100000000000,"id":"c1","#
      + #""function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#
    #expect(translator.consume(chunk).isEmpty)
    let events = translator.consume("[DONE]")
    guard case .response(let response) = events.first else {
      Issue.record("expected a final response, got \(events)")
      return
    }
    let parts = response["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue ?? []
    #expect(parts.count == 1)
    #expect(parts.first?["functionCall"]?["name"] == "f")
  }

  @Test func moreThanTheToolCallLimitIsAStreamError() {
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    var last: [GeminiStreamEvent] = []
    for index in 0...OpenAIStreamTranslator.maxToolCalls {
      // Indices far apart, so only the count can hit the limit.
      let chunk =
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":\#(index * 1_000_000_000),"#
        + #""id":"c\#(index)","function":{"name":"f","arguments":"{}"}}]}}]}"#
      last = translator.consume(chunk)
      if index < OpenAIStreamTranslator.maxToolCalls { #expect(last.isEmpty) }
    }
    guard case .error(let error) = last.last else {
      Issue.record("expected a stream error, got \(last)")
      return
    }
    #expect(error.code == 500)
    #expect(translator.isComplete)
  }

  /// Arguments are held until the stream ends, so their total is bounded: fragments streamed forever end the
  /// stream with an error instead of growing the process.
  @Test func toolCallArgumentsPastTheCapAreAStreamError() {
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    let fragment = String(repeating: "a", count: 1024 * 1024)
    let first =
      #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]}}]}"#
    #expect(translator.consume(first).isEmpty)
    var last: [GeminiStreamEvent] = []
    var sent = 0
    while !translator.isComplete, sent <= OpenAIStreamTranslator.maxToolCallArgumentBytes {
      last = translator.consume(
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\#(fragment)"}}]}}]}"#)
      sent += fragment.utf8.count
    }
    guard case .error(let error) = last.last else {
      Issue.record("expected a stream error after \(sent) bytes, got \(last)")
      return
    }
    #expect(error.message.contains("tool-call arguments exceed"))
    #expect(sent > OpenAIStreamTranslator.maxToolCallArgumentBytes)
  }

  @Test func moreThanTheChoiceLimitIsAStreamError() {
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    let choices = (0...OpenAIStreamTranslator.maxChoices).map { #"{"index":\#($0),"delta":{}}"# }
    let events = translator.consume(#"{"choices":[\#(choices.joined(separator: ","))]}"#)
    guard case .error = events.last else {
      Issue.record("expected a stream error, got \(events)")
      return
    }
  }

  // MARK: the class: one bounded conversion for every foreign number

  @Test func boundedIntegerNeverTraps() {
    #expect(BoundedInteger.exact(1e300) == nil)
    #expect(BoundedInteger.exact(-1e300) == nil)
    #expect(BoundedInteger.exact(-0.0) == 0)
    #expect(BoundedInteger.exact(2.5) == nil)
    #expect(BoundedInteger.exact(.infinity) == nil)
    #expect(BoundedInteger.exact(.nan) == nil)
    // 2^63 is just out of range; -2^63 is just in.
    #expect(BoundedInteger.exact(9_223_372_036_854_775_808.0) == nil)
    #expect(BoundedInteger.exact(-9_223_372_036_854_775_808.0) == Int64.min)
    #expect(BoundedInteger.clamping(1e300, to: 0...10) == 10)
    #expect(BoundedInteger.clamping(-1e300, to: 0...10) == 0)
    #expect(BoundedInteger.clamping(7.9, to: 0...10) == 7)
    #expect(BoundedInteger.clamping(.nan, to: 0...10) == nil)
    #expect(BoundedInteger.sum(Int64.max, Int64.max, in: 0...Int64.max) == Int64.max)
    #expect(BoundedInteger.sum(Int64.min, -1, in: Int64.min...Int64.max) == Int64.min)
    #expect(BoundedInteger.decimalDigits(String(repeating: "9", count: 1000), maximum: 5) == 5)
    #expect(BoundedInteger.decimalDigits(String(repeating: "9", count: 1000) + "x", maximum: 5) == nil)
    #expect(BoundedInteger.decimalDigits("+5", maximum: 10) == nil)
    #expect(JSONValue.double(1e300).intValue == nil)
    #expect(JSONValue.double(40.0).integer(in: 0...100) == 40)
    #expect(JSONValue.int(101).integer(in: 0...100) == nil)
    #expect(JSONValue.double(1e300).clampedInteger(in: 0...100) == 100)
    #expect(JSONValue.string("5").clampedInteger(in: 0...100) == nil)
  }

  @Test func generationConfigIntegersAreInt32AndRejectedOutsideIt() throws {
    for field in ["maxOutputTokens", "candidateCount", "topK", "seed", "logprobs"] {
      for value in ["4294967296", "-9223372036854775808", "1e300"] {
        let message = try trDecodeError(#"{"contents":[],"generationConfig":{"\#(field)":\#(value)}}"#)
        #expect(message?.hasPrefix("generationConfig: \(field) must be an integer") == true, "\(field)=\(value)")
      }
    }
    let budget = try trDecodeError(
      #"{"contents":[],"generationConfig":{"thinkingConfig":{"thinkingBudget":9223372036854775807}}}"#)
    #expect(budget?.contains("thinkingBudget must be an integer between") == true)
    #expect(try trDecodeError(#"{"contents":[],"generationConfig":{"maxOutputTokens":2147483647}}"#) == nil)
    #expect(try trDecodeError(#"{"contents":[],"generationConfig":{"seed":-2147483648.0}}"#) == nil)
    // Counts are never negative; a seed may be.
    for field in ["maxOutputTokens", "candidateCount", "topK"] {
      let message = try trDecodeError(#"{"contents":[],"generationConfig":{"\#(field)":-1}}"#)
      #expect(message == "generationConfig: \(field) must be an integer between 0 and 2147483647", "\(field)")
    }
    #expect(try trDecodeError(#"{"contents":[],"generationConfig":{"seed":-1}}"#) == nil)
  }

  // MARK: the JSON parser itself

  @Test func deepNestingIsAnErrorNotAStackOverflow() {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    // Even a caller asking for no limit gets the parser's ceiling.
    #expect(throws: JSONParseError.self) { try JSONParser.parse(deep, maxDepth: Int.max) }
    let objects = String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000)
    #expect(throws: JSONParseError.self) { try JSONParser.parse(objects) }
    // The patch scanner walks values without building them: same limit.
    #expect(throws: JSONParseError.self) { try JSONPatch.layout(of: Array(#"{"y":\#(deep)}"#.utf8)) }
  }

  @Test func absurdNumberLiteralsAreBoundedAndTyped() throws {
    let long = String(repeating: "9", count: 2_000_000)
    #expect(throws: JSONParseError.self) { try JSONParser.parse(long) }
    #expect(throws: JSONParseError.self) { try JSONParser.parse("0." + long) }
    #expect(throws: JSONParseError.self) { try JSONParser.parse("1e" + long) }
    #expect(throws: JSONParseError.self) { try JSONParser.parse("1e400") }
    #expect(try JSONParser.parse("-0") == .int(0))
    #expect(try JSONParser.parse("-0.0").intValue == 0)
    #expect(try JSONParser.parse("9223372036854775808") == .double(9_223_372_036_854_775_808.0))
    #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
    #expect(try JSONParser.parse("1e-400") == .double(0))
  }
}

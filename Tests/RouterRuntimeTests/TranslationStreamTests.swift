import RouteSpec
import Testing

@testable import RouterRuntime

/// Runs an upstream SSE body through the parser, the translator and the Gemini SSE writer.
func trTranslateStream(_ upstream: String, includeThoughts: Bool = false, pieceSize: Int? = nil) -> String {
  var options = trResponseOptions
  options.includeThoughts = includeThoughts
  var parser = SSEParser()
  var translator = OpenAIStreamTranslator(options: options)
  var out: [UInt8] = []
  let bytes = Array(upstream.utf8)
  let size = pieceSize ?? max(bytes.count, 1)
  var start = 0
  while start < bytes.count {
    let end = min(start + size, bytes.count)
    for event in parser.feed(bytes[start..<end]) {
      for output in translator.consume(event.data) { out += GeminiSSEWriter.event(output) }
    }
    start = end
  }
  for event in parser.finish() {
    for output in translator.consume(event.data) { out += GeminiSSEWriter.event(output) }
  }
  for output in translator.finish() { out += GeminiSSEWriter.event(output) }
  return String(decoding: out, as: UTF8.self)
}

@Suite struct TranslationStreamTests {
  /// protocols.md §7.2 worked example, byte for byte.
  @Test func workedToolCallExample() {
    let upstream = """
      data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}

      data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":\\"Pa"}}]},"finish_reason":null}]}

      data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ris\\"}"}},{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]}

      data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

      data: {"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}}

      data: [DONE]


      """
    let expected =
      #"data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"call_a","name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"id":"call_b","name":"get_time","args":{}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":50,"candidatesTokenCount":20,"totalTokenCount":70},"modelVersion":"route-model","responseId":"louter-1"}"#
      + "\r\n\r\n"
    #expect(trTranslateStream(upstream) == expected)
    // The same bytes split at every possible size give the same output.
    for size in [1, 2, 3, 7, 64] {
      #expect(trTranslateStream(upstream, pieceSize: size) == expected, "piece size \(size)")
    }
  }

  @Test func textIsEmittedImmediatelyAndUsageOnFinishChunk() {
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    #expect(
      translator.consume(
        #"{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#
      ).isEmpty)
    let first = translator.consume(
      #"{"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#)
    #expect(
      first.map { $0.json.serialized() } == [
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"modelVersion":"gpt-4o","responseId":"c1"}"#
      ])
    let second = translator.consume(
      #"{"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
    )
    #expect(second.count == 1)
    #expect(second.first?.json["candidates"]?.arrayValue?.first?["finishReason"] == nil)
    let done = translator.consume("[DONE]")
    #expect(
      done.map { $0.json.serialized() } == [
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"gpt-4o","responseId":"c1"}"#
      ])
    #expect(translator.isComplete)
    #expect(translator.finish().isEmpty)
    #expect(translator.consume(#"{"choices":[{"index":0,"delta":{"content":"late"}}]}"#).isEmpty)
  }

  @Test func usageCumulativeLastWinsAndNoUsageMeansNoMetadata() {
    let cumulative = trTranslateStream(
      """
      data: {"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}

      data: {"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}

      data: [DONE]

      """)
    #expect(
      cumulative.hasSuffix(
        #""finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"route-model","responseId":"louter-1"}"#
          + "\r\n\r\n"))
    // LM Studio: no usage at all, and EOF right after the finish without [DONE].
    let none = trTranslateStream(
      """
      data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}

      """)
    #expect(
      none
        == #"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"a"}]},"index":0}],"modelVersion":"route-model","responseId":"louter-1"}"#
        + "\r\n\r\n"
        + #"data: {"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"modelVersion":"route-model","responseId":"louter-1"}"#
        + "\r\n\r\n")
  }

  @Test func azureFilterChunkIsNotUsage() {
    let output = trTranslateStream(
      """
      data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}

      data: {"choices":[{"content_filter_results":{},"delta":{"content":"Hi"},"finish_reason":null,"index":0}],"id":"az1","model":"gpt-4o"}

      data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop","index":0}],"id":"az1","model":"gpt-4o","usage":null}

      data: [DONE]

      """)
    #expect(
      output
        == #"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}],"modelVersion":"gpt-4o","responseId":"az1"}"#
        + "\r\n\r\n"
        + #"data: {"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"modelVersion":"gpt-4o","responseId":"az1"}"#
        + "\r\n\r\n")
  }

  /// Ollama: parallel calls arrive whole, all with index 0 and distinct ids.
  @Test func ollamaIndexReuse() {
    let output = trTranslateStream(
      """
      data: {"id":"o1","model":"llama3.2:3b","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_x","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},"finish_reason":null}]}

      data: {"id":"o1","model":"llama3.2:3b","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_y","index":0,"type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]}

      data: {"id":"o1","model":"llama3.2:3b","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"tool_calls"}]}

      data: {"id":"o1","model":"llama3.2:3b","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}

      data: [DONE]

      """)
    #expect(
      output
        == #"data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"call_x","name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"id":"call_y","name":"get_time","args":{}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":6,"totalTokenCount":11},"modelVersion":"llama3.2:3b","responseId":"o1"}"#
        + "\r\n\r\n")
  }

  @Test func repeatedIdAndNameAndMissingIndex() {
    let output = trTranslateStream(
      """
      data: {"choices":[{"delta":{"tool_calls":[{"id":"c1","function":{"name":"search","arguments":"{\\"q\\":"}}]}}]}

      data: {"choices":[{"delta":{"tool_calls":[{"id":"c1","function":{"name":"search","arguments":"\\"x\\"}"}}]}}]}

      data: {"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"noid","arguments":""}}]},"finish_reason":"tool_calls"}]}

      data: [DONE]

      """)
    #expect(
      output.contains(
        #""parts":[{"functionCall":{"id":"c1","name":"search","args":{"q":"x"}}},{"functionCall":{"id":"call_1","name":"noid","args":{}}}]"#
      ))
  }

  @Test func malformedStreamedArguments() {
    let output = trTranslateStream(
      """
      data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\\"a\\":"}}]},"finish_reason":"tool_calls"}]}

      data: [DONE]

      """)
    #expect(
      output.contains(
        #""finishReason":"MALFORMED_FUNCTION_CALL","finishMessage":"Malformed function call \"f\": arguments are not a JSON object: {\"a\":""#
      ))
    #expect(!output.contains("functionCall"))
  }

  @Test func reasoningDeltasOnlyWhenIncludeThoughts() {
    let upstream = """
      data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}

      data: {"choices":[{"index":0,"delta":{"reasoning":"more"}}]}

      data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}

      data: [DONE]

      """
    #expect(!trTranslateStream(upstream).contains("hmm"))
    let shown = trTranslateStream(upstream, includeThoughts: true)
    #expect(
      shown.hasPrefix(
        #"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hmm","thought":true}]},"index":0}]"#))
    #expect(shown.contains(#"[{"text":"more","thought":true}]"#))
  }

  @Test func multipleChoices() {
    let output = trTranslateStream(
      """
      data: {"choices":[{"index":1,"delta":{"content":"B"}},{"index":0,"delta":{"content":"A"}}]}

      data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"length"}]}

      data: [DONE]

      """)
    #expect(
      output.hasSuffix(
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0},{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"MAX_TOKENS","index":1}],"modelVersion":"route-model","responseId":"louter-1"}"#
          + "\r\n\r\n"))
    #expect(output.hasPrefix(#"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"B"}]},"index":1}]"#))
  }

  @Test func cutStreamBecomesUnavailableError() {
    let output = trTranslateStream(
      """
      data: {"choices":[{"index":0,"delta":{"content":"par"}}]}

      data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{"}}]}}]}

      """)
    #expect(
      output.hasSuffix(
        #"data: {"error":{"code":503,"message":"upstream stream ended before the response was complete","status":"UNAVAILABLE"}}"#
          + "\r\n\r\n"))
    #expect(!output.contains("functionCall"))
    // [DONE] without any finish_reason ends normally with OTHER.
    let noFinish = trTranslateStream(
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n")
    #expect(noFinish.contains(#""finishReason":"OTHER""#))
    // An empty body is a failure too.
    #expect(trTranslateStream("").contains(#""status":"UNAVAILABLE""#))
  }

  @Test func errorEvents() {
    let openAI = trTranslateStream(
      """
      data: {"choices":[{"index":0,"delta":{"content":"a"}}]}

      data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}

      data: {"choices":[{"index":0,"delta":{"content":"never"}}]}

      """)
    #expect(
      openAI.hasSuffix(
        #"data: {"error":{"code":500,"message":"The server had an error","status":"INTERNAL","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"server_error","domain":"louter","metadata":{"backend":"openai","upstreamStatus":"500"}}]}}"#
          + "\r\n\r\n"))
    #expect(!openAI.contains("never"))
    let vllm = trTranslateStream(
      #"data: {"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}"#
        + "\n\n")
    #expect(vllm.contains(#""code":400,"#))
    #expect(vllm.contains("context length exceeded"))
    let rate = trTranslateStream(
      #"data: {"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"# + "\n\n")
    #expect(rate.contains(#""status":"RESOURCE_EXHAUSTED""#))
    // Past the few skipped events a stream may have, unreadable events end it with an in-band error.
    let garbage = trTranslateStream(String(repeating: "data: {not json\n\n", count: 4))
    #expect(garbage.contains(#""status":"INTERNAL""#))
    #expect(garbage.contains("4 unparsable stream events"))
  }

  @Test func oneUnreadableEventIsSkippedAndTheAnswerGoesOn() {
    let delta = { (text: String) in
      #"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"\#(text)"},"finish_reason":null}]}"#
        + "\n\n"
    }
    let stream =
      delta("Hello") + "data: {\"choices\":[{truncated\n\n" + delta(" world")
      + #"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n"
      + "data: [DONE]\n\n"
    let out = trTranslateStream(stream)
    #expect(out.contains("Hello") && out.contains(" world"))
    #expect(out.contains(#""finishReason":"STOP""#))
    #expect(!out.contains(#""error""#))
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    _ = translator.consume("{bad")
    _ = translator.consume("{bad")
    #expect(translator.skippedEvents == 2 && !translator.isComplete)
  }
}

@Suite struct TranslationSSETests {
  private func events(_ text: String, pieceSize: Int) -> [SSEEvent] {
    var parser = SSEParser()
    var result: [SSEEvent] = []
    let bytes = Array(text.utf8)
    var start = 0
    while start < bytes.count {
      let end = min(start + pieceSize, bytes.count)
      result += parser.feed(bytes[start..<end])
      start = end
    }
    return result + parser.finish()
  }

  @Test func lenientParsingAcrossArbitraryBoundaries() {
    let text =
      "\u{FEFF}: ping\r\nevent: message\r\ndata:{\"a\":1}\r\n\r\ndata: line1\ndata: line2\nid: 7\n\n: comment\n\ndata: cr\r\rdata:  two spaces\n\nretry: 5\nunknown\ndata\n\ndata: last-without-blank"
    let expected = [
      SSEEvent(event: "message", data: #"{"a":1}"#), SSEEvent(data: "line1\nline2", id: "7"),
      SSEEvent(data: "cr", id: "7"), SSEEvent(data: " two spaces", id: "7"), SSEEvent(data: "", id: "7"),
      SSEEvent(data: "last-without-blank", id: "7"),
    ]
    for size in 1...12 {
      #expect(events(text, pieceSize: size) == expected, "piece size \(size)")
    }
    #expect(events(text, pieceSize: 10_000) == expected)
  }

  /// Pieces of any size read as a byte at a time does (where a line's run goes in at once, the limit still drops
  /// exactly what it dropped byte by byte, and so does a whole line read where it lies), at every limit from
  /// 1 to 24 bytes, so that each line meets the limit at each of its lengths.
  @Test func piecesReadAsBytesDo() {
    let text = Array(
      "data: 0123456789\n\ndata: ok\r\n\r\nevent: e\ndata: a\ndata: bcdefghij\n\n: c\rdata: tail-abcdef".utf8)
    for limit in Array(1...24) + [64] {
      var reference = SSEParser(maxEventBytes: limit)
      var expected: [SSEEvent] = []
      for byte in text { expected += reference.feed(CollectionOfOne(byte)) }
      expected += reference.finish()
      for size in [2, 3, 5, 7, 16, 40, text.count] {
        var parser = SSEParser(maxEventBytes: limit)
        var events: [SSEEvent] = []
        var start = 0
        while start < text.count {
          events += parser.feed(text[start..<min(start + size, text.count)])
          start += size
        }
        events += parser.finish()
        #expect(events == expected, "limit \(limit), pieces of \(size)")
        #expect(parser.droppedOversizedEvent == reference.droppedOversizedEvent)
      }
    }
  }

  @Test func oversizedEventsAreDropped() {
    var parser = SSEParser(maxEventBytes: 8)
    let out = parser.feed(Array("data: 0123456789\n\ndata: ok\n\n".utf8))
    #expect(out == [SSEEvent(data: "ok")])
    #expect(parser.droppedOversizedEvent)
  }

  @Test func geminiWriters() {
    let value: JSONValue = .object([JSONMember("a", 1)])
    #expect(String(decoding: GeminiSSEWriter.event(value), as: UTF8.self) == "data: {\"a\":1}\r\n\r\n")
    var writer = GeminiJSONArrayWriter()
    var out = writer.element(value)
    out += writer.write(.response(.object([JSONMember("b", 2)])))
    out += writer.end()
    out += writer.element(value)
    #expect(String(decoding: out, as: UTF8.self) == "[{\"a\":1},\r\n{\"b\":2}]")
    var failing = GeminiJSONArrayWriter()
    var bytes = failing.element(value)
    bytes += failing.write(.error(.unavailable("gone")))
    bytes += failing.end()
    #expect(
      String(decoding: bytes, as: UTF8.self)
        == "[{\"a\":1},\r\n{\"error\":{\"code\":503,\"message\":\"gone\",\"status\":\"UNAVAILABLE\"}}]")
    var early = GeminiJSONArrayWriter()
    #expect(
      String(decoding: early.error(.internal("x")), as: UTF8.self)
        == #"[{"error":{"code":500,"message":"x","status":"INTERNAL"}}]"#)
    var empty = GeminiJSONArrayWriter()
    #expect(empty.end() == Array("[]".utf8))
  }
}

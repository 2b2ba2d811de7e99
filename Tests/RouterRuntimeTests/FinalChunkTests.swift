import RouteSpec
import Testing

@testable import RouterRuntime

/// The last event of a plain text stream (finish reasons and usage, no tool calls).
@Suite struct FinalChunkTests {
  /// The client bytes of a whole stream, SSE or JSON array, as the relay's writers write translator outputs.
  static func written(_ stream: [String], options: GeminiResponseOptions, sse: Bool) -> [String] {
    var translator = OpenAIStreamTranslator(options: options)
    var writer = GeminiJSONArrayWriter()
    var events: [String] = []
    for output in stream.flatMap({ translator.translate($0) }) + translator.translateEnd() {
      events.append(String(decoding: sse ? GeminiSSEWriter.event(output) : writer.write(output), as: UTF8.self))
    }
    if !sse { events.append(String(decoding: writer.end(), as: UTF8.self)) }
    return events
  }

  static let plainOptions = GeminiResponseOptions(modelVersion: "fallback-model", responseId: "fallback-id")

  /// Pins the last event of plain streams byte for byte (captured from the tree path before the final event had a
  /// direct writer), so that a change of shape is seen here and not only against another writer.
  @Test func lastEventBytesOfPlainStreams() {
    let text = #"{"id":"r","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#
    let usage =
      #"{"id":"r","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":4}}}"#
    let content = #"{"content":{"role":"model","parts":[{"text":""}]}"#
    let counts =
      #""usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":4,"totalTokenCount":17,"cachedContentTokenCount":4,"thoughtsTokenCount":3}"#
    let last =
      #"{"candidates":[\#(content),"finishReason":"STOP","index":0}],\#(counts),"modelVersion":"m","responseId":"r"}"#
    #expect(
      Self.written([text, usage, "[DONE]"], options: Self.plainOptions, sse: true).last == "data: \(last)\r\n\r\n")
    #expect(
      Self.written([text, usage, "[DONE]"], options: Self.plainOptions, sse: false).suffix(2) == [",\r\n\(last)", "]"])

    // Integer enums, no usage, no model or id, a finish at clean EOF.
    let integers = GeminiResponseOptions(
      includeThoughts: true, modelVersion: "fallback-model", responseId: "fallback-id", integerEnums: true)
    let length = #"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"length"}]}"#
    #expect(
      Self.written([length], options: integers, sse: true).last
        == #"data: {"candidates":[\#(content),"finishReason":2,"index":0}],"modelVersion":"fallback-model","responseId":"fallback-id"}"#
        + "\r\n\r\n")

    // Two choices, sorted by index, one without a finish reason; an unknown reason; usage on its own chunk.
    let two = [
      #"{"id":"t","choices":[{"index":1,"delta":{"content":"one"},"finish_reason":"content_filter"},{"index":0,"delta":{"content":"zero"}}]}"#,
      #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#, "[DONE]",
    ]
    #expect(
      Self.written(two, options: Self.plainOptions, sse: false).suffix(2) == [
        #",\#r\#n{"candidates":[\#(content),"finishReason":"OTHER","index":0},\#(content),"finishReason":"SAFETY","index":1}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7},"modelVersion":"fallback-model","responseId":"t"}"#,
        "]",
      ])

    // No choice at all: still one candidate, so clients see a finishReason.
    let empty = [#"{"choices":[],"usage":{"prompt_tokens":99999999999}}"#, "[DONE]"]
    #expect(
      Self.written(empty, options: Self.plainOptions, sse: true) == [
        #"data: {"candidates":[\#(content),"finishReason":"OTHER","index":0}],"usageMetadata":{"promptTokenCount":2147483647,"totalTokenCount":2147483647},"modelVersion":"fallback-model","responseId":"fallback-id"}"#
          + "\r\n\r\n"
      ])
  }

  /// Bytes as text, for readable failures.
  static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  /// The tree's serialisation, as the general path writes it.
  static func treeBytes(_ value: JSONValue) -> [UInt8] {
    var out: [UInt8] = []
    JSONWriter.write(value, into: &out, pretty: false, depth: 0)
    return out
  }

  /// Every combination of finish reasons, usage, candidates, names and options: the direct bytes are the tree's,
  /// alone, as an SSE event and as a first or later array element.
  @Test func finalChunkBytesAreTheSerialisedTree() throws {
    let reasons: [String?] = ["stop", "length", "content_filter", nil, "unknown", "tool_calls", "function_call"]
    // Names no OpenAI reason maps to: a known one and one the enum table lacks, which stays a name.
    let names = reasons.map { OpenAIToGemini.finishReason(fromOpenAI: $0) } + ["MALFORMED_FUNCTION_CALL", "Odd \"x\""]
    let usages: [String?] = [
      nil, #"{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}"#,
      #"{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":4}}"#,
      #"{"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":9}}"#,
      #"{"prompt_tokens":99999999999999,"completion_tokens":2147483647,"total_tokens":1e300}"#,
      #"{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"prompt_tokens_details":{"cached_tokens":0}}"#,
      #"{"prompt_tokens":1}"#,
    ]
    let counts = try usages.map { usage in try usage.flatMap { GeminiUsageCounts(openAI: try JSONParser.parse($0)) } }
    #expect(counts.dropFirst().allSatisfy { $0 != nil })
    let envelopes = [("m", "r"), ("", ""), ("model \"q\" \\ é 😀\u{1}", "chatcmpl-\u{7f}\n")]
    let candidateLists: [[GeminiFinalChunk.Candidate]] =
      names.map { [GeminiFinalChunk.Candidate(index: 0, finishReason: $0)] } + [
        [.init(index: 0, finishReason: "STOP"), .init(index: 1, finishReason: "OTHER")],
        [
          .init(index: 2, finishReason: "SAFETY"), .init(index: 7, finishReason: "x"),
          .init(index: 2147483647, finishReason: "MAX_TOKENS"),
        ],
        // Never made by the translator; written from its tree rather than as broken JSON.
        [],
      ]
    var compared = 0
    for options in awOptions {
      for candidates in candidateLists {
        for usage in counts {
          for (model, id) in envelopes {
            let chunk = GeminiFinalChunk(
              candidates: candidates, usage: usage, modelVersion: model, responseId: id, options: options)
            var direct: [UInt8] = []
            chunk.write(into: &direct)
            #expect(Self.text(direct) == Self.text(Self.treeBytes(chunk.response)))
            #expect(Self.text(GeminiSSEWriter.event(.final(chunk))) == Self.text(GeminiSSEWriter.event(chunk.response)))
            var fast = GeminiJSONArrayWriter()
            var general = GeminiJSONArrayWriter()
            for _ in 0..<2 {
              #expect(Self.text(fast.write(.final(chunk))) == Self.text(general.write(.response(chunk.response))))
            }
            compared += 1
          }
        }
      }
    }
    #expect(compared == awOptions.count * candidateLists.count * usages.count * envelopes.count)
  }

  /// A stream's end without tool calls is a final chunk, whose tree is the one the general path built; with a
  /// named tool call it is a general event.
  @Test func streamsWithoutToolCallsEndInAFinalChunk() {
    for options in awOptions {
      var plain = OpenAIStreamTranslator(options: options)
      _ = plain.translate(#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#)
      let end = plain.translate("[DONE]")
      #expect(end.count == 1)
      guard case .final(let chunk) = end.first else {
        Issue.record("a plain stream's end is not a final chunk")
        continue
      }
      #expect(chunk.candidates == [GeminiFinalChunk.Candidate(index: 0, finishReason: "STOP")] && chunk.usage == nil)
      // A tool-call fragment that never got a name is noise: still the compact form.
      var unnamed = OpenAIStreamTranslator(options: options)
      _ = unnamed.translate(
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]},"finish_reason":"stop"}]}"#
      )
      if case .final = unnamed.translateEnd().first {
      } else {
        Issue.record("an unnamed fragment left the compact form")
      }
      var calls = OpenAIStreamTranslator(options: options)
      _ = calls.translate(
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#
      )
      if case .final = calls.translate("[DONE]").first { Issue.record("a tool call took the final chunk's path") }
    }
  }
}

import RouteSpec
import Testing

@testable import RouterRuntime

/// The last chunk of every translated stream shape, byte for byte: every `content` has `parts`.
@Suite struct StreamPartsGoldenTests {
  /// Upstream OpenAI streams: a text answer, a tool call, an empty answer, a length cut with no delta.
  static let text = """
    data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}

    data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}

    data: [DONE]

    """
  static let toolCall = """
    data: {"id":"c2","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}}]}

    data: {"id":"c2","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

    data: [DONE]

    """
  static let empty = """
    data: {"id":"c3","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]}

    data: [DONE]

    """
  static let noChoices = """
    data: {"id":"c4","model":"gpt-4o","choices":[]}

    data: [DONE]

    """

  static let lastChunks: [(String, String)] = [
    (
      text,
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"gpt-4o","responseId":"c1"}"#
    ),
    (
      toolCall,
      #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"call_1","name":"get_weather","args":{"city":"Paris"}}}]},"finishReason":"STOP","index":0}],"modelVersion":"gpt-4o","responseId":"c2"}"#
    ),
    (
      empty,
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"modelVersion":"gpt-4o","responseId":"c3"}"#
    ),
    (
      noChoices,
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"OTHER","index":0}],"modelVersion":"gpt-4o","responseId":"c4"}"#
    ),
  ]

  /// Every response event of a translated stream.
  static func events(_ upstream: String) -> [GeminiStreamEvent] {
    var parser = SSEParser()
    var translator = OpenAIStreamTranslator(options: trResponseOptions)
    var events: [GeminiStreamEvent] = []
    for event in parser.feed(Array(upstream.utf8)[...]) + parser.finish() {
      events += translator.consume(event.data)
    }
    return events + translator.finish()
  }

  @Test(arguments: 0..<4)
  func lastSSEChunk(shape: Int) throws {
    let (upstream, golden) = Self.lastChunks[shape]
    let events = Self.events(upstream)
    let last = try #require(events.last)
    #expect(String(decoding: GeminiSSEWriter.event(last), as: UTF8.self) == "data: \(golden)\r\n\r\n")
  }

  @Test(arguments: 0..<4)
  func lastJSONArrayChunk(shape: Int) {
    let (upstream, golden) = Self.lastChunks[shape]
    var writer = GeminiJSONArrayWriter()
    var bytes: [UInt8] = []
    for event in Self.events(upstream) { bytes += writer.write(event) }
    bytes += writer.end()
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.hasPrefix("["))
    #expect(text.hasSuffix(golden + "]"))
  }

  /// No chunk of any shape has a `content` without `parts`.
  @Test func everyChunkWithContentHasParts() throws {
    for (upstream, _) in Self.lastChunks {
      for event in Self.events(upstream) {
        for candidate in event.json["candidates"]?.arrayValue ?? [] {
          let parts = try #require(candidate["content"]?["parts"]?.arrayValue)
          #expect(!parts.isEmpty)
        }
      }
    }
  }

  /// A non-streamed empty answer has the same empty text part.
  @Test func wholeEmptyAnswerHasAnEmptyTextPart() throws {
    let answer = try trGeminiResponse(
      #"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#)
    #expect(
      answer.json["candidates"]?.arrayValue?.first?["content"]?.serialized()
        == #"{"role":"model","parts":[{"text":""}]}"#)
  }
}

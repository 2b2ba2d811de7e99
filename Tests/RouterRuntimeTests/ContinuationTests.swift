import RouteSpec
import Testing

@testable import RouterRuntime

/// What a broken stream leaves for the backend that continues it: the prefill, the usage, the final error.
@Suite struct ContinuationTests {
  static let broke = HopFailure(
    backend: "a", fault: .reset, error: .unavailable("backend 'a' broke off the stream: reset"), outcome: "reset")

  static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

  @Test func onlyPlainTextOfOneCandidateCanBeContinued() throws {
    var facts = RelayFacts()
    facts.note(
      answer: try Self.json(#"{"candidates":[{"content":{"parts":[{"text":"Hel"},{"text":"x","thought":true}]}}]}"#))
    facts.note(answer: try Self.json(#"{"candidates":[{"content":{"parts":[{"text":"lo"}]}}]}"#))
    #expect(facts.answerText == "Hello", "thoughts are not part of the prefill")
    #expect(facts.continuable)
    var call = facts
    call.note(
      answer: try Self.json(#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#))
    #expect(!call.continuable, "a function call cannot be continued half-way")
    var two = RelayFacts()
    two.note(answer: try Self.json(#"{"candidates":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[]}}]}"#))
    #expect(!two.continuable)
    var long = RelayFacts()
    long.note(
      answer: .object([
        JSONMember(
          "candidates",
          [
            .object([
              JSONMember(
                "content",
                .object([
                  JSONMember(
                    "parts",
                    [.object([JSONMember("text", .string(String(repeating: "x", count: StreamResume.maxText + 1)))])])
                ]))
            ])
          ])
      ]))
    #expect(!long.continuable && long.answerText.isEmpty, "the prefill is bounded")
  }

  @Test func thePrefillIsATrailingModelTurnInBothSpellings() throws {
    var resume = StreamResume(sse: true, openAI: false, text: "", outputTokens: 0, originalBreak: Self.broke)
    var facts = RelayFacts()
    facts.note(answer: try Self.json(#"{"candidates":[{"content":{"parts":[{"text":"So far"}]}}]}"#))
    facts.textBytes = 6
    resume.add(facts)
    let body = try Self.json(#"{"contents":[{"role":"user","parts":[{"text":"q"}]}],"generationConfig":{"seed":1}}"#)
    #expect(
      resume.withPrefill(body).serialized()
        == #"{"contents":[{"role":"user","parts":[{"text":"q"}]},{"role":"model","parts":[{"text":"So far"}]}],"generationConfig":{"seed":1}}"#
    )
    let bytes = Array(#"{"generationConfig": {"seed": 1}, "contents": {"parts": [{"text": "q"}]}}"#.utf8)
    let patched = String(decoding: try resume.withPrefill(bytes: bytes), as: UTF8.self)
    #expect(
      patched
        == #"{"generationConfig": {"seed": 1}, "contents": [{"parts":[{"text":"q"}]},{"role":"model","parts":[{"text":"So far"}]}]}"#,
      "only contents is rewritten; a single content becomes a list: \(patched)")
  }

  @Test func theFinalUsageCountsTheWholeAnswer() throws {
    var resume = StreamResume(sse: false, openAI: false, text: "", outputTokens: 0, originalBreak: Self.broke)
    var facts = RelayFacts()
    facts.usage.output = 10
    resume.add(facts)
    let answer = try Self.json(
      #"{"candidates":[],"usageMetadata":{"promptTokenCount":25,"candidatesTokenCount":5,"thoughtsTokenCount":2}}"#)
    #expect(
      resume.patched(answer).serialized()
        == #"{"candidates":[],"usageMetadata":{"promptTokenCount":15,"candidatesTokenCount":15,"thoughtsTokenCount":2,"totalTokenCount":32}}"#
    )
    let hostile = try Self.json(#"{"usageMetadata":{"promptTokenCount":-5,"candidatesTokenCount":1e300}}"#)
    let patched = resume.patched(hostile)
    #expect(patched["usageMetadata"]?["promptTokenCount"] == .int(0), "never below zero")
    #expect(
      patched["usageMetadata"]?["candidatesTokenCount"]?.clampedInteger(in: OpenAIToGemini.tokenCountRange) != nil)
  }

  /// A translated stream that continues another keeps the tree's way for its final event: its usage is patched to
  /// count the whole answer, in the bytes and in the answer the record reads.
  @Test(arguments: [true, false]) func aContinuedTranslatedStreamPatchesItsFinalEvent(sse: Bool) {
    var resume = StreamResume(sse: sse, openAI: false, text: "", outputTokens: 0, originalBreak: Self.broke)
    var facts = RelayFacts()
    facts.usage.output = 10
    resume.add(facts)
    let options = GeminiResponseOptions(modelVersion: "m", responseId: "r")
    let stream = [
      #"{"choices":[{"index":0,"delta":{"content":"more"}}]}"#,
      #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":4}}"#,
      "[DONE]",
    ]
    var form = TranslatedStreamForm(backend: "b", options: options, sse: sse, resume: resume)
    var bytes: [UInt8] = []
    var answers: [RelayAnswer] = []
    for data in stream + [nil] {
      let piece = form.feed(data.map { Array("data: \($0)\n\n".utf8) })
      bytes += piece.bytes
      answers += piece.answers
    }
    var translator = OpenAIStreamTranslator(options: options)
    let patched = stream.flatMap { translator.consume($0) }.map { resume.patched($0.json) }
    #expect(answers == patched.map(RelayAnswer.json))
    var array = GeminiJSONArrayWriter(elementsWritten: 1)
    #expect(bytes == patched.flatMap { sse ? GeminiSSEWriter.event($0) : array.element($0) })
    #expect(patched.last?["usageMetadata"]?["candidatesTokenCount"] == .int(14))
  }

  @Test func theOriginalBreakIsTheErrorAndRefusalsAreOnlyAppended() {
    var resume = StreamResume(sse: false, openAI: false, text: "x", outputTokens: 1, originalBreak: Self.broke)
    resume.later = [
      HopFailure(
        backend: "b", fault: .upstreamStatus(400, retryAfter: nil), error: .invalidArgument("no prefill"),
        outcome: "400")
    ]
    let error = resume.finalError(after: resume.later)
    #expect(error.code == 503 && error.message.hasPrefix("backend 'a' broke off the stream"))
    #expect(error.message.contains("b: no prefill"))
    let bytes = String(decoding: resume.errorBytes(error), as: UTF8.self)
    #expect(bytes.hasPrefix(",") && bytes.hasSuffix("]"), "the client's open array gets one more element and closes")
  }
}

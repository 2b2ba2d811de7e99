import RouteSpec
import Testing

@testable import RouterRuntime

/// Non-streamed OpenAI answers of every shape the translator handles.
let awAnswers: [String] = [
  #"{"id":"a","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#,
  #"{"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"length"}]}"#,
  #"{"id":"u","choices":[{"message":{"content":"héllo \"q\" \\ \n\t\r\b\f \u0001 \u007f ✓ 😀 \ud800"},"finish_reason":"stop"}]}"#,
  #"{"choices":[{"index":2,"message":{"content":"two"},"finish_reason":"stop"},{"index":0,"message":{"content":"zero"},"finish_reason":"content_filter"},{"index":1,"message":{"content":null},"finish_reason":null}]}"#,
  #"{"choices":[{"index":0,"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"function":{"name":"g","arguments":{"b":[1,2]}}}]},"finish_reason":"tool_calls"}]}"#,
  #"{"choices":[{"index":0,"message":{"content":"x","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"not json"}}]},"finish_reason":"tool_calls"}]}"#,
  #"{"choices":[{"index":0,"message":{"content":null,"refusal":"I can't"},"finish_reason":"stop"}]}"#,
  #"{"choices":[{"index":0,"message":{"content":"answer","reasoning_content":"think"},"finish_reason":"stop"}]}"#,
  #"{"choices":[{"index":0,"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"reasoning":"r"},"finish_reason":"weird"}]}"#,
  #"{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":4}}}"#,
  #"{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":99999999999999,"completion_tokens":-5,"total_tokens":1e300}}"#,
  #"{"choices":[{"index":99999999999,"message":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1.5}}"#,
  #"{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop","logprobs":{"content":[{"token":"x","logprob":-0.25,"top_logprobs":[{"token":"x","logprob":-0.25},{"token":"y","logprob":-1.5}]}]}}]}"#,
  #"{"choices":[]}"#,
]

/// OpenAI stream bodies (`data:` lines) of every shape the stream translator handles.
let awStreams: [[String]] = [
  (0..<4).map { #"{"id":"s","model":"m","choices":[{"index":0,"delta":{"content":"w\#($0) "},"finish_reason":null}]}"# }
    + [
      #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
      #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#, "[DONE]",
    ],
  [
    #"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
    #"{"choices":[{"index":0,"delta":{"content":"é \"\\\n\u0000 😀"},"finish_reason":null}]}"#,
    #"{"choices":[{"index":1,"delta":{"content":"one"}},{"index":0,"delta":{"content":"zero"}}]}"#,
    #"{"choices":[{"index":1,"delta":{},"finish_reason":"length"},{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    "[DONE]",
  ],
  [
    #"{"choices":[{"index":0,"delta":{"reasoning_content":"think","content":"a","refusal":"no"}}]}"#,
    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":-1,"completion_tokens":99999999999,"completion_tokens_details":{"reasoning_tokens":2}}}"#,
    "[DONE]",
  ],
  [#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#, #"{"error":{"message":"boom","code":500}}"#],
  [#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#, "not json", "nor this", "{", "}"],
  [#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#],
  [
    #"{"choices":[{"delta":{"content":"no index"}}]}"#,
    #"{"id":"late-id","choices":[{"index":-4,"delta":{"content":"negative"}}]}"#,
    #"{"model":"late-model","choices":[{"index":1e30,"delta":{"content":"huge"}},{"index":2,"delta":{"refusal":"r"}}]}"#,
    #"{"id":"","model":"","choices":[{"index":0,"delta":{"content":"\u2028\u2029\t"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#,
    #"{"choices":[{"index":0,"delta":{"content":"a","tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}"#,
    #"{"choices":[{"index":0,"delta":{"content":7}},{"index":1,"delta":{"content":""}}]}"#,
    #"{"choices":{"index":0}}"#, "  [DONE]  ",
  ],
]

/// The option sets every variant runs under.
let awOptions: [GeminiResponseOptions] = [false, true].flatMap { thoughts in
  [false, true].map { integers in
    GeminiResponseOptions(
      includeThoughts: thoughts, modelVersion: "fallback-model", responseId: "fallback-id", backend: "b",
      integerEnums: integers)
  }
}

/// The client bytes of Gemini events, written as the gateway writes them, are exactly the compact serialisation of
/// the translated trees, framed: the writers reserve their buffers up front and must not change a byte.
@Suite struct AnswerWriterTests {
  /// The reference framing: `data: ` + the compact JSON + CRLF CRLF.
  static func referenceSSE(_ value: JSONValue) -> [UInt8] {
    Array("data: ".utf8) + value.serializedBytes() + [0x0D, 0x0A, 0x0D, 0x0A]
  }

  /// Every translated answer and stream event, in the order a client gets them, with every option set.
  static func translatedValues() throws -> [JSONValue] {
    var values: [JSONValue] = []
    for options in awOptions {
      for answer in awAnswers {
        let json = try JSONParser.parse(answer)
        do {
          values.append(try OpenAIToGemini.translate(json, options: options).json)
        } catch {
          values.append(error.json)
        }
      }
      for stream in awStreams {
        var translator = OpenAIStreamTranslator(options: options)
        for data in stream { values += translator.consume(data).map(\.json) }
        values += translator.finish().map(\.json)
      }
    }
    return values
  }

  @Test func sseEventsAreTheSerialisedTrees() throws {
    let values = try Self.translatedValues()
    #expect(values.count > 100)
    for value in values {
      #expect(GeminiSSEWriter.event(value) == Self.referenceSSE(value))
      #expect(GeminiSSEWriter.event(GeminiStreamEvent.response(value)) == Self.referenceSSE(value))
    }
  }

  @Test func arrayElementsAreTheSerialisedTrees() throws {
    let values = try Self.translatedValues()
    var writer = GeminiJSONArrayWriter()
    var reference: [UInt8] = []
    var written: [UInt8] = []
    for (position, value) in values.enumerated() {
      reference += (position == 0 ? Array("[".utf8) : Array(",\r\n".utf8)) + value.serializedBytes()
      written += writer.element(value)
    }
    written += writer.error(.internal("late"))
    reference += Array(",\r\n".utf8) + GeminiError.internal("late").json.serializedBytes() + Array("]".utf8)
    #expect(written == reference)
  }

  /// The client bytes of one stream through the general path: every event a tree, serialised.
  static func treeStream(_ stream: [String], options: GeminiResponseOptions, sse: Bool) -> [UInt8] {
    var translator = OpenAIStreamTranslator(options: options)
    var writer = GeminiJSONArrayWriter()
    var out: [UInt8] = []
    for event in stream.flatMap({ translator.consume($0) }) + translator.finish() {
      out += sse ? Self.referenceSSE(event.json) : writer.write(event)
    }
    return out + (sse ? [] : writer.end())
  }

  /// The client bytes of one stream through the fast path: text-only events written without a tree.
  static func fastStream(_ stream: [String], options: GeminiResponseOptions, sse: Bool) -> (
    bytes: [UInt8], texts: Int
  ) {
    var translator = OpenAIStreamTranslator(options: options)
    var writer = GeminiJSONArrayWriter()
    var out: [UInt8] = []
    var texts = 0
    for output in stream.flatMap({ translator.translate($0) }) + translator.translateEnd() {
      if case .text = output { texts += 1 }
      out += sse ? GeminiSSEWriter.event(output) : writer.write(output)
    }
    return (out + (sse ? [] : writer.end()), texts)
  }

  @Test(arguments: [true, false]) func fastStreamIsTheTreeStream(sse: Bool) {
    var texts = 0
    for options in awOptions {
      for stream in awStreams {
        let fast = Self.fastStream(stream, options: options, sse: sse)
        #expect(fast.bytes == Self.treeStream(stream, options: options, sse: sse), "\(stream) \(options)")
        texts += fast.texts
      }
    }
    // The fast path is taken: the plain text stream alone has four text-only events per option set.
    #expect(texts >= 4 * awOptions.count)
  }

  @Test func textOnlyEventsTakeTheFastPathOthersDoNot() {
    var translator = OpenAIStreamTranslator(options: awOptions[2])
    let plain = translator.translate(#"{"choices":[{"index":3,"delta":{"content":"a"}}]}"#)
    #expect(plain.count == 1)
    guard case .text(let chunk) = plain.first else {
      Issue.record("a text-only delta is not a text chunk")
      return
    }
    #expect(chunk.text == "a" && chunk.index == 3)
    // With thoughts asked for, a reasoning delta needs its own part: the general path.
    let reasoning = translator.translate(#"{"choices":[{"index":3,"delta":{"reasoning":"r","content":"a"}}]}"#)
    #expect(reasoning.count == 1)
    if case .text = reasoning.first { Issue.record("a reasoning delta took the text-only path") }
  }

  /// The relay's translated form writes the same bytes as the tree path, and reads the same record facts from a
  /// text chunk as from its tree.
  @Test(arguments: [true, false]) func relayFormMatchesTheTreePath(sse: Bool) {
    var finals = 0
    for options in awOptions {
      for stream in awStreams {
        var form = TranslatedStreamForm(backend: "b", options: options, sse: sse)
        var bytes: [UInt8] = []
        var answers: [RelayAnswer] = []
        var failed = false
        for data in stream where !failed {
          let piece = form.feed(Array("data: \(data)\n\n".utf8))
          bytes += piece.bytes
          answers += piece.answers
          failed = piece.failure != nil
        }
        if !failed {
          let last = form.feed(nil)
          bytes += last.bytes
          answers += last.answers
          failed = last.failure != nil
          if !failed { bytes += form.end() }
        }
        let tree = Self.treeStream(stream, options: options, sse: sse)
        // On a failure the relay leaves the error event to its caller; the tree stream holds it.
        #expect(failed ? tree.starts(with: bytes) && tree != bytes : tree == bytes, "\(stream)")
        var viaText = RelayFacts()
        var viaTree = RelayFacts()
        for answer in answers {
          switch answer {
          case .text(let chunk):
            viaText.note(text: chunk.text)
            #expect(Exchange.textBytes(chunk.response) == chunk.text.utf8.count)
            #expect(chunk.response["usageMetadata"] == nil)
          case .final(let chunk):
            finals += 1
            viaText.note(final: chunk)
            #expect(Exchange.textBytes(chunk.response) == 0)
            var fromCounts = TokenUsage()
            fromCounts.note(chunk.usage)
            var fromTree = TokenUsage()
            fromTree.note(chunk.response["usageMetadata"])
            #expect(fromCounts == fromTree)
          case .json: viaText.note(answer: answer.json)
          }
          viaTree.note(answer: answer.json)
        }
        #expect(viaText == viaTree)
      }
    }
    // The plain and the two-choice streams end in a final chunk under every option set.
    #expect(finals == 2 * awOptions.count)
  }

  /// Every answer, under every option set: the bytes, usage and warnings of the direct writer are the tree's.
  @Test func answerBytesAreTheSerialisedTree() throws {
    var direct = 0
    let extra = [
      #"{"id":"p","model":"m","choices":[{"index":1,"message":{"content":"b"},"finish_reason":"length"},{"index":1,"message":{"content":"a"}},{"message":{"content":null}}]}"#,
      #"{"choices":[{"index":0,"message":{"content":"x","tool_calls":[]},"finish_reason":"stop"}]}"#,
      #"{"choices":[{"index":0,"message":{"content":{"a":1}},"logprobs":null},7,{"index":-3,"message":{"content":"é\u0000"}}]}"#,
      #"{"choices":[{"index":0,"message":{"content":"x","refusal":""},"finish_reason":"stop"}],"usage":{"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":9}},"model":7,"id":null}"#,
      #"{"object":"error","message":"m"}"#, #"{"choices":null}"#,
    ]
    for options in awOptions {
      for answer in awAnswers + extra {
        let json = try JSONParser.parse(answer)
        let tree: Result<GeminiTranslatedResponse, GeminiError>
        do { tree = .success(try OpenAIToGemini.translate(json, options: options)) } catch { tree = .failure(error) }
        let bytes: Result<(bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings), GeminiError>
        do {
          bytes = .success(try OpenAIToGemini.translatedBytes(json, options: options))
        } catch {
          bytes = .failure(error)
        }
        switch (tree, bytes) {
        case (.success(let tree), .success(let written)):
          #expect(written.bytes == tree.json.serializedBytes(), "\(answer) \(options)")
          #expect(written.usage?.json == tree.json["usageMetadata"])
          #expect(written.warnings == tree.warnings)
        case (.failure(let treeError), .failure(let error)):
          #expect(error == treeError)
        default:
          Issue.record("the paths disagree on \(answer)")
        }
        if PlainOpenAIAnswer(json, options: options) != nil { direct += 1 }
      }
    }
    // The direct writer is taken for the plain answers (with names for enums), not only the tree.
    #expect(direct >= 10)
  }

  /// What a client gets for an answer's bytes: the answer, or why not.
  enum AnswerOutcome: Equatable {
    case answer([UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings)
    case notJSON(JSONParseError)
    case refused(GeminiError)

    /// The reference: the whole tree parsed, then translated.
    init(viaTree body: [UInt8], options: GeminiResponseOptions) {
      self.init { try OpenAIToGemini.translatedBytes(try JSONParser.parse(body), options: options) }
    }

    /// The gateway's way: a plain answer read from the bytes, anything else through the tree.
    init(fromBytes body: [UInt8], options: GeminiResponseOptions) {
      self.init { try OpenAIToGemini.translatedBytes(answer: body, options: options) }
    }

    private init(_ translate: () throws -> (bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings)) {
      do {
        let written = try translate()
        self = .answer(written.bytes, usage: written.usage, warnings: written.warnings)
      } catch let error as JSONParseError {
        self = .notJSON(error)
      } catch let error as GeminiError {
        self = .refused(error)
      } catch {
        preconditionFailure("unexpected \(error)")
      }
    }
  }

  /// Answers the tree reads a particular way: duplicated members (the first counts), members of other types,
  /// choices and messages that are not objects, and what the parser refuses in members nobody reads.
  static let oddAnswers: [[UInt8]] =
    [
      #"{"choices":[{"index":0,"message":{"content":"a"}}],"choices":[]}"#,
      #"{"model":"first","model":"second","choices":[{"message":{"content":"a"}}]}"#,
      #"{"id":"i","id":"j","choices":[{"message":{"content":"a"}}]}"#,
      #"{"choices":[{"message":{"content":"a","content":"b"}}]}"#,
      #"{"choices":[{"index":3,"index":1,"message":{"content":"a"}}]}"#,
      #"{"choices":[{"message":{"content":"a"},"finish_reason":"stop","finish_reason":"length"}]}"#,
      #"{"choices":[{"message":{"content":"a"},"message":{"content":"b"}}]}"#,
      #"{"choices":[{"message":null},{"message":{"content":"x"}},7,"s",[],{}]}"#,
      #"{"object":"error","choices":[]}"#, #"{"object":7,"choices":[{"message":{"content":"x"}}]}"#,
      #"{"object":"chat.completion","object":"error","choices":[{"message":{"content":"x"}}]}"#,
      #"{"error":null,"choices":[]}"#, #"{"choices":{}}"#, #"{"usage":{"prompt_tokens":1}}"#,
      // Keys written with escapes or beyond ASCII: the same names to the tree.
      #"{"\u0063hoices":[{"message":{"c\u006fntent":"x"},"finish_\u0072eason":"length"}],"mod\u0065l":"e"}"#,
      #"{"choices":[{"message":{"content":"x","ré":1}}],"\u00e9rror":1,"er\"ror":2}"#,
      #"{"choices":[{"message":{"content":"x"}}],"\u0065rror":null}"#,
      #"{"choices":[{"message":{"content":"x","tool_calls":null,"refusal":null,"reasoning_content":null,"reasoning":"r"}}]}"#,
      #"{"choices":[{"message":{"content":"x","reasoning_content":"","reasoning":"r"}}]}"#,
      #"{"choices":[{"message":{"content":"x","reasoning":"r","reasoning":""}}]}"#,
      #"{"choices":[{"message":{"content":"x","refusal":"","refusal":"no"}}]}"#,
      #"{"choices":[{"message":{"content":"x","tool_calls":7}}]}"#,
      #"{"choices":[{"message":{"content":"x","tool_calls":null,"tool_calls":[]}}]}"#,
      #"{"choices":[{"message":{"content":"x"},"logprobs":{"content":[]},"logprobs":{"content":[1]}}]}"#,
      #"{"choices":[{"index":"1","message":{"content":"x"},"finish_reason":7}],"model":null,"id":12}"#,
      #"{"choices":[{"index":-1.5e3,"message":{"content":"x","role":{"deep":[1,{"a":null}]}}}],"usage":7}"#,
      #"{"usage":{"prompt_tokens":2},"usage":{"prompt_tokens":3},"choices":[{"message":{"content":""}}]}"#,
      #"{"created":1e999,"choices":[{"message":{"content":"x"}}]}"#,
      #"{"system_fingerprint":"\u00zz","choices":[]}"#, #"{"choices":[],}"#,
      "  {\"choices\":[{\"message\":{\"content\":\"x\"}}]}\n ", "{\"choices\":[]} x", "[]", "null", "",
      "{\"x\":" + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + ",\"choices\":[]}",
    ].map { Array($0.utf8) } + [
      // Bytes that are not UTF-8, in a member nobody reads and in the text.
      Array(#"{"note":""#.utf8) + [0xFF, 0xFE] + Array(#"","choices":[{"message":{"content":"x"}}]}"#.utf8),
      Array(#"{"choices":[{"message":{"content":""#.utf8) + [0xC3] + Array(#""}}]}"#.utf8),
    ]

  /// Every answer, every prefix of each, and the odd ones, under every option set: what a client gets from the
  /// answer's bytes is what the tree gives it, failures included; and the byte reader is taken for plain answers.
  @Test func answersReadFromTheirBytesAreTheTreesAnswers() throws {
    var fromBytes = 0
    for options in awOptions {
      for answer in awAnswers.map({ Array($0.utf8) }) + Self.oddAnswers {
        for length in 0...answer.count {
          let body = Array(answer[0..<length])
          let outcome = AnswerOutcome(fromBytes: body, options: options)
          #expect(outcome == AnswerOutcome(viaTree: body, options: options), "\(String(decoding: body, as: UTF8.self))")
          guard let plain = PlainOpenAIAnswer(answer: body, options: options) else { continue }
          fromBytes += 1
          // What the byte reader read is what the tree reader reads.
          #expect(plain == PlainOpenAIAnswer(try JSONParser.parse(body), options: options))
        }
      }
    }
    // The plain answers with enums as names go the bytes' way.
    #expect(fromBytes >= 20)
  }

  /// Stream chunks the tree reads a particular way (see ``oddAnswers``), for the chunk reader.
  static let oddChunks: [String] = [
    #"{"choices":[{"index":0,"delta":{"content":"a"}}],"choices":[]}"#,
    #"{"model":"first","model":"second","choices":[{"delta":{"content":"a"}}]}"#,
    #"{"id":"i","id":"j","choices":[{"delta":{"content":"a"}}]}"#,
    #"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
    #"{"choices":[{"index":3,"index":1,"delta":{"content":"a"}}]}"#,
    #"{"choices":[{"delta":{"content":"a"},"finish_reason":"stop","finish_reason":"length"}]}"#,
    #"{"choices":[{"delta":{"content":"a"},"delta":{"content":"b"}}]}"#,
    #"{"choices":[{"delta":null},{"delta":{"content":"x"}},7,"s",[],{}]}"#,
    #"{"object":"error","choices":[]}"#, #"{"object":7,"choices":[{"delta":{"content":"x"}}]}"#,
    #"{"error":null,"choices":[]}"#, #"{"choices":{}}"#, #"{"choices":null,"model":"m2","id":"i2"}"#,
    #"{"\u0063hoices":[{"delta":{"c\u006fntent":"x"},"finish_\u0072eason":"length"}],"mod\u0065l":"e"}"#,
    #"{"choices":[{"delta":{"content":"x","reasoning_content":"","reasoning":"r"}}]}"#,
    #"{"choices":[{"delta":{"content":"x","reasoning":"r","reasoning":""}}]}"#,
    #"{"choices":[{"delta":{"content":"x","refusal":"","refusal":"no"}}]}"#,
    #"{"choices":[{"delta":{"content":"x","tool_calls":7}}]}"#,
    #"{"choices":[{"delta":{"content":"x","tool_calls":null,"tool_calls":[]}}]}"#,
    #"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}"#,
    #"{"choices":[{"index":"1","delta":{"content":7,"refusal":5}}],"model":null,"id":12}"#,
    #"{"usage":{"prompt_tokens":2},"usage":{"prompt_tokens":3},"choices":[{"delta":{"content":""}}]}"#,
    #"{"usage":7,"choices":[{"delta":{"content":"u"},"finish_reason":"stop"}]}"#,
    #"{"created":1e999,"choices":[{"delta":{"content":"x"}}]}"#, "{\"choices\":[]} x", "[]", "null",
  ]

  /// A stream whose `model` and `id` repeat, change, come escaped, non-ASCII, empty or not as strings: what the
  /// chunk reader takes as the values kept from the chunk before must be what the tree reads.
  static let repeatedEnvelopeChunks: [String] = [
    #"{"id":"chatcmpl-0123456789abcdef","model":"m-1","choices":[{"delta":{"content":"a"}}]}"#,
    #"{"id":"chatcmpl-0123456789abcdef","model":"m-1","choices":[{"delta":{"content":"b"}}]}"#,
    #"{"id":"chatcmpl-0123456789abcde\u0066","model":"m\u002d1","choices":[{"delta":{"content":"c"}}]}"#,
    #"{"id":"chatcmpl-0123456789abcde","model":"m-2","choices":[{"delta":{"content":"d"}}]}"#,
    #"{"id":"é-ünïcode","model":"","choices":[{"delta":{"content":"e"}}]}"#,
    #"{"id":"é-ünïcode","model":null,"choices":[{"delta":{"content":"f"}}]}"#,
    #"{"id":"","model":7,"choices":[{"delta":{"content":"g"}}]}"#,
    #"{"id":"é-ünïcode","id":"x","model":"m-2","choices":[{"delta":{"content":"h"}}]}"#,
    #"{"id":"\u00e9-\u00fcn\u00efcode","model":"m-2\n","choices":[{"delta":{"content":"i"}}]}"#,
    #"{"id":"chatcmpl-0123456789abcdef\u0001","model":"m-2","choices":[{"delta":{"content":"j"}}]}"#,
    #"{"id":"chatcmpl-0123456789abcdef","model":"m-2","choices":[{"delta":{"content":"k"},"finish_reason":"stop"}]}"#,
  ]

  /// Every stream, every prefix of each chunk and the odd chunks, under every option set: a translator reading
  /// common chunks from their text produces what one reading every chunk's tree produces, event by event.
  @Test func streamChunksReadFromTheirTextAreTheTreesChunks() {
    var fromText = 0
    let streams =
      awStreams.flatMap { stream in
        [stream]
          + stream.map { chunk in
            (0...chunk.utf8.count).map { String(decoding: Array(chunk.utf8)[0..<$0], as: UTF8.self) }
          }
      } + [Self.oddChunks, Self.repeatedEnvelopeChunks] + Self.oddChunks.map { [$0, "[DONE]"] }
    for options in awOptions {
      for stream in streams {
        var direct = OpenAIStreamTranslator(options: options)
        var viaTree = OpenAIStreamTranslator(options: options)
        viaTree.readsChunkBytes = false
        for data in stream {
          #expect(direct.translate(data) == viaTree.translate(data), "\(data)")
          if OpenAIStreamChunk(text: data, includeThoughts: options.includeThoughts) != nil { fromText += 1 }
        }
        #expect(direct.finish() == viaTree.finish())
        #expect(direct.skippedEvents == viaTree.skippedEvents)
      }
    }
    #expect(fromText >= 40)
  }

  /// Pins one text chunk's whole event, so that a change of shape is seen here and not only in the framing.
  @Test func textChunkEventBytes() {
    var translator = OpenAIStreamTranslator(options: awOptions[0])
    let outputs = translator.translate(
      #"{"id":"r","model":"m","choices":[{"index":0,"delta":{"content":"a\"b"},"finish_reason":null}]}"#)
    #expect(outputs.count == 1)
    let expected =
      #"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"a\"b"}]},"index":0}],"modelVersion":"m","responseId":"r"}"#
      + "\r\n\r\n"
    #expect(outputs.map { String(decoding: GeminiSSEWriter.event($0), as: UTF8.self) } == [expected])
    #expect(outputs.map { String(decoding: GeminiSSEWriter.event($0.event), as: UTF8.self) } == [expected])
  }

  @Test func usageCountsAreWrittenAsTheirTreeIsSerialised() throws {
    let usages = [
      #"{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}"#,
      #"{"prompt_tokens":10,"completion_tokens":7,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":4}}"#,
      #"{"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":9}}"#,
      #"{"total_tokens":9223372036854775807,"prompt_tokens":-1}"#,
      #"{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}"#,
    ]
    for usage in usages {
      let counts = try #require(GeminiUsageCounts(openAI: try JSONParser.parse(usage)))
      var out: [UInt8] = []
      counts.write(into: &out)
      #expect(String(decoding: out, as: UTF8.self) == counts.json.serialized(), "\(usage)")
    }
    #expect(GeminiUsageCounts(openAI: try JSONParser.parse(#"{"cached":1}"#)) == nil)
    #expect(GeminiUsageCounts(openAI: .int(3)) == nil)
    #expect(GeminiUsageCounts(openAI: nil) == nil)
    let detailed = try #require(GeminiUsageCounts(openAI: try JSONParser.parse(usages[1])))
    #expect(
      detailed.json.serialized()
        == #"{"promptTokenCount":10,"candidatesTokenCount":4,"totalTokenCount":17,"cachedContentTokenCount":4,"thoughtsTokenCount":3}"#
    )
  }

  /// A plain answer's `usage` read from its bytes makes the counts its tree makes, and the record's token counts
  /// from those counts are the ones read from the `usageMetadata` they stand for.
  @Test func usageReadFromBytesIsUsageReadFromTheTree() throws {
    let usages = [
      #"{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}"#,
      #"{"prompt_tokens":10,"completion_tokens":7,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":1}}"#,
      #"{"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":9,"x":[1,{"a":2}]}}"#,
      #"{"total_tokens":9223372036854775807,"prompt_tokens":-1}"#,
      #"{"prompt_tokens":1e30,"completion_tokens":2.5,"total_tokens":"9"}"#,
      #"{"prompt_tokens":null,"completion_tokens":[1],"total_tokens":{"n":1}}"#,
      #"{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"extra":{"prompt_tokens":99}}"#,
      #"{"prompt_tokens":4,"completion_tokens_details":7,"prompt_tokens_details":[{"cached_tokens":3}]}"#,
      #"{"cached":1}"#, "{}", "3", "null", #""usage""#, "[1,2]",
    ]
    for usage in usages {
      let tree = GeminiUsageCounts(openAI: try JSONParser.parse(usage))
      let read = try JSONReader.read(Array(usage.utf8)) { (reader) throws(JSONParseError) in
        try GeminiUsageCounts.read(openAI: &reader)
      }
      #expect(read == tree, "\(usage)")
      var fromCounts = TokenUsage()
      fromCounts.note(tree)
      var fromTree = TokenUsage()
      fromTree.note(tree?.json)
      #expect(fromCounts == fromTree, "\(usage)")
      if tree != nil { #expect(fromCounts.reported) }
    }
    // A count sent twice is left to the tree, which takes the first.
    for twice in [
      #"{"prompt_tokens":1,"prompt_tokens":2}"#,
      #"{"completion_tokens_details":{"reasoning_tokens":1,"reasoning_tokens":2}}"#,
    ] {
      #expect(throws: JSONParseError.self) {
        try JSONReader.read(Array(twice.utf8)) { (reader) throws(JSONParseError) in
          try GeminiUsageCounts.read(openAI: &reader)
        }
      }
    }
  }
}

import RouteSpec
import Testing

@testable import RouterRuntime

/// The byte reader of a plain answer against the tree, on a hostile backend's bytes: generated answers (extra and
/// unknown members, reordered members, escapes, Unicode, numbers of every shape, nulls, several choices, tool
/// calls) and, from each, truncations and single-byte mutations. Whatever the client gets from the bytes (answer,
/// refusal or parse error) is what the tree's way gives it.
@Suite struct AnswerReadDifferentialTests {
  /// Bytes a mutation writes: JSON's structure, string and number pieces, and what is not UTF-8.
  static let mutationBytes: [UInt8] =
    Array(#"{}[]:,"\0123456789-+.eEtrufalsn u"#.utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xFF]

  /// The answer's variants: itself, a truncation, and a byte replaced, inserted or removed.
  static func variants(of body: [UInt8], random: inout SeededGenerator) -> [[UInt8]] {
    var variants = [body]
    guard !body.isEmpty else { return variants }
    let count = UInt64(body.count)
    variants.append(Array(body.prefix(Int(random.next() % count))))
    var replaced = body
    replaced[Int(random.next() % count)] = mutationBytes[Int(random.next() % UInt64(mutationBytes.count))]
    variants.append(replaced)
    var inserted = body
    inserted.insert(mutationBytes[Int(random.next() % UInt64(mutationBytes.count))], at: Int(random.next() % count))
    variants.append(inserted)
    var removed = body
    removed.remove(at: Int(random.next() % count))
    variants.append(removed)
    return variants
  }

  @Test func answersAndTheirMutationsReadFromBytesAreTheTreesTranslation() {
    var maker = GeneratedAnswerTests.AnswerMaker(random: SeededGenerator(state: 4242))
    var random = SeededGenerator(state: 17)
    var plain = 0
    var answers = 0
    for _ in 0..<2500 {
      for body in Self.variants(of: maker.answer(), random: &random) {
        answers += 1
        for options in awOptions {
          let fromBytes = AnswerWriterTests.AnswerOutcome(fromBytes: body, options: options)
          #expect(
            fromBytes == AnswerWriterTests.AnswerOutcome(viaTree: body, options: options),
            "\(String(decoding: body, as: UTF8.self)) \(options)")
          if PlainOpenAIAnswer.translatedBytes(answer: body, options: options) != nil { plain += 1 }
        }
      }
    }
    // The byte reader answers often enough, on originals and on mutations it still takes, to be what is tested.
    #expect(answers >= 10_000)
    #expect(plain > 3000)
  }

  /// The bench's answer and its compact and spaced spellings, byte for byte what the tree's way writes.
  @Test func theBenchAnswerIsTheTreesTranslation() throws {
    let answers = [
      #"{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}"#,
      #"{ "id" : "c", "choices" : [ { "index" : 1, "message" : { "content" : "a\u00e9\n" }, "finish_reason" : "length" }, { "index" : 0, "message" : { "content" : null } } ], "usage" : { "prompt_tokens" : 1 } }"#,
    ]
    for answer in answers {
      let body = Array(answer.utf8)
      // Enums as numbers are never a plain answer's: the tree's way writes them.
      for options in awOptions where !options.integerEnums {
        let read = try #require(PlainOpenAIAnswer.translatedBytes(answer: body, options: options))
        #expect(
          AnswerWriterTests.AnswerOutcome.answer(read.bytes, usage: read.usage, warnings: read.warnings)
            == AnswerWriterTests.AnswerOutcome(viaTree: body, options: options))
      }
    }
  }
}

import RouteSpec
import Testing

@testable import RouterRuntime

/// The way back from a backend, each piece against an independent reference over seeded generated input: the
/// answer's bytes against the tree's translation serialised, the body's chunk queue against an array, a body read
/// whole against its chunks joined.
@Suite struct AnswerPathDifferentialTests {
  static let options = [
    GeminiResponseOptions(modelVersion: "m", responseId: "r"),
    GeminiResponseOptions(includeThoughts: true, modelVersion: "m\u{1}é", responseId: "r\""),
  ]

  @Test func answerBytesAreTheTreesTranslationSerialised() throws {
    var maker = GeneratedAnswerTests.AnswerMaker(random: SeededGenerator(state: 909))
    var plain = 0
    var several = 0
    for _ in 0..<4000 {
      let body = maker.answer()
      for options in Self.options {
        let fromBytes = AnswerWriterTests.AnswerOutcome(fromBytes: body, options: options)
        // The reference never takes the plain answer's writer: the general translation, then the tree's writer.
        let reference: AnswerWriterTests.AnswerOutcome
        do {
          let json = try JSONParser.parse(body)
          let translated = try OpenAIToGemini.translate(json, options: options)
          reference = .answer(
            translated.json.serializedBytes(), usage: GeminiUsageCounts(openAI: json["usage"]),
            warnings: translated.warnings)
        } catch let error as JSONParseError {
          reference = .notJSON(error)
        } catch let error as GeminiError {
          reference = .refused(error)
        }
        #expect(fromBytes == reference, "\(String(decoding: body, as: UTF8.self)) \(options)")
        guard let read = PlainOpenAIAnswer(answer: body, options: options) else { continue }
        plain += 1
        if read.candidates.count > 1 { several += 1 }
      }
    }
    // Enough plain answers, several of them with more than one choice to sort, for the writer to be what is tested.
    #expect(plain > 1000)
    #expect(several > 200)
  }

  @Test func theChunkQueueKeepsTheOrderOfAnArray() {
    var random = SeededGenerator(state: 77)
    for _ in 0..<500 {
      var queue = ChunkQueue()
      var reference: [[UInt8]] = []
      var next: UInt8 = 0
      for _ in 0..<Int(random.next() % 40) {
        switch random.next() % 10 {
        case 0..<5:
          next &+= 1
          let chunk = [UInt8](repeating: next, count: Int(random.next() % 3) + 1)
          queue.append(chunk)
          reference.append(chunk)
        case 5..<9:
          #expect(queue.removeFirst() == (reference.isEmpty ? nil : reference.removeFirst()))
        default:
          queue.removeAll()
          reference.removeAll()
        }
        #expect(queue.isEmpty == reference.isEmpty)
      }
      while let chunk = queue.removeFirst() { #expect(chunk == reference.removeFirst()) }
      #expect(reference.isEmpty)
    }
  }

  @Test func aBodyReadWholeIsItsChunksJoined() async throws {
    var random = SeededGenerator(state: 5)
    for _ in 0..<300 {
      let chunks = (0..<Int(random.next() % 5)).map { _ in
        (0..<Int(random.next() % 6)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      }
      let joined = chunks.flatMap { $0 }
      let limit = Int(random.next() % 20)
      do {
        let read = try await Exchange.readAll(UpstreamBody(chunks: chunks), limit: limit)
        #expect(read == joined)
        #expect(joined.count <= limit)
      } catch {
        #expect(error == .tooLarge)
        #expect(joined.count > limit)
      }
    }
  }
}

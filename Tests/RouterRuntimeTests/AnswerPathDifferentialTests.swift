import RouteSpec
import Testing

@testable import RouterRuntime

/// The way back from a backend, each piece against an independent reference over seeded generated input: the
/// body's chunk queue against an array, a body read whole against its chunks joined.
@Suite struct AnswerPathDifferentialTests {
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

import RouteSpec
import Testing

@testable import RouterRuntime

/// The last chunk of every passthrough stream shape, byte for byte, through a gateway and a raw-socket
/// Gemini backend: a candidate `content` without `parts` gains an empty text part, every other chunk is
/// relayed exactly as the backend sent it.
@Suite(.serialized, .timeLimit(.minutes(1))) struct PassthroughPartsTests {
  static let usage = #""usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}"#
  static let first =
    #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi","thoughtSignature":"c2lnbg=="}]},"index":0}],"modelVersion":"gemini-2.5-flash"}"#

  /// Last chunks as a backend sends them, and as the client must get them.
  static let lastChunks: [(name: String, sent: String, relayed: String)] = [
    (
      "content without parts",
      #"{"candidates":[{"content":{"role":"model"},"finishReason":"STOP","index":0}],\#(usage),"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],\#(usage),"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#
    ),
    (
      "content with null parts",
      #"{"candidates":[{"content":{"parts":null,"role":"model"},"finishReason":"MAX_TOKENS","index":0}],\#(usage)}"#,
      #"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],\#(usage)}"#
    ),
    (
      "content with parts",
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP","index":0}], \#(usage)}"#,
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP","index":0}], \#(usage)}"#
    ),
    (
      "no content",
      #"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]}],\#(usage)}"#,
      #"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]}],\#(usage)}"#
    ),
    (
      "usage only", #"{\#(usage),"modelVersion":"gemini-2.5-flash"}"#, #"{\#(usage),"modelVersion":"gemini-2.5-flash"}"#
    ),
  ]

  /// A keep-alive Gemini backend answering every request with `answer`.
  static func backend(_ answer: String) throws -> RawFakeBackend {
    try RawFakeBackend.answering { _ in answer }
  }

  /// A chunked stream of `pieces`, each in a chunk of its own or all in one.
  static func stream(_ pieces: [String], type: String, oneChunk: Bool) -> String {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nTransfer-Encoding: chunked\r\n\r\n"
    let chunks = oneChunk ? RawHTTP.chunk(pieces.joined()) : pieces.map(RawHTTP.chunk).joined()
    return head + chunks + RawHTTP.lastChunk
  }

  static let cases: [(Int, Bool)] = lastChunks.indices.flatMap { [($0, false), ($0, true)] }

  @Test(arguments: cases)
  func lastSSEChunk(shape: Int, oneChunk: Bool) async throws {
    let (name, sent, relayed) = Self.lastChunks[shape]
    let events = [Self.first, sent].map { "data: \($0)\r\n\r\n" }
    let backend = try Self.backend(Self.stream(events, type: "text/event-stream", oneChunk: oneChunk))
    let gateway = try RelayFidelityTests().gateway("gemini", [backend])
    defer { stopAll(backend, gateway) }
    let answer = try await gateway.post(RelayFidelityTests.streamGenerate, RelayFidelityTests.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"), "\(name)")
    let body = ChunkedBody(answer.body)
    #expect(body.terminated, "\(name)")
    #expect(body.payload == "data: \(Self.first)\r\n\r\ndata: \(relayed)\r\n\r\n", "\(name)")
  }

  @Test(arguments: cases)
  func lastJSONArrayChunk(shape: Int, oneChunk: Bool) async throws {
    let (name, sent, relayed) = Self.lastChunks[shape]
    let pieces = ["[" + Self.first, ",\r\n" + sent, "]"]
    let backend = try Self.backend(Self.stream(pieces, type: "application/json", oneChunk: oneChunk))
    let gateway = try RelayFidelityTests().gateway("gemini", [backend])
    defer { stopAll(backend, gateway) }
    let answer = try await gateway.post("/v1beta/models/m:streamGenerateContent", RelayFidelityTests.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"), "\(name)")
    let body = ChunkedBody(answer.body)
    #expect(body.terminated, "\(name)")
    #expect(body.payload == "[\(Self.first),\r\n\(relayed)]", "\(name)")
  }

  @Test(arguments: lastChunks.indices)
  func wholeAnswer(shape: Int) async throws {
    let (name, sent, relayed) = Self.lastChunks[shape]
    let backend = try Self.backend(RawHTTP.response(200, sent))
    let gateway = try RelayFidelityTests().gateway("gemini", [backend])
    defer { stopAll(backend, gateway) }
    let answer = try await gateway.post(RelayFidelityTests.generate, RelayFidelityTests.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"), "\(name)")
    #expect(answer.body == relayed, "\(name)")
  }

  /// Google pretty-prints non-SSE answers: only `candidates` is written anew, the rest keeps its layout.
  static let pretty = """
    {
      "candidates": [
        {
          "content": {
            "role": "model"
          },
          "finishReason": "STOP"
        }
      ],
      "usageMetadata": {
        "promptTokenCount": 3
      }
    }
    """
  static let prettyRelayed = """
    {
      "candidates": [{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP"}],
      "usageMetadata": {
        "promptTokenCount": 3
      }
    }
    """

  @Test func aPrettyPrintedAnswerKeepsEveryOtherMembersBytes() async throws {
    let backend = try Self.backend(RawHTTP.response(200, Self.pretty))
    let gateway = try RelayFidelityTests().gateway("gemini", [backend])
    defer { stopAll(backend, gateway) }
    let answer = try await gateway.post(RelayFidelityTests.generate, RelayFidelityTests.hello)
    #expect(answer.body == Self.prettyRelayed)
  }

  @Test func aPrettyPrintedJSONArrayElementKeepsEveryOtherMembersBytes() async throws {
    let backend = try Self.backend(Self.stream(["[" + Self.pretty + "]"], type: "application/json", oneChunk: true))
    let gateway = try RelayFidelityTests().gateway("gemini", [backend])
    defer { stopAll(backend, gateway) }
    let answer = try await gateway.post("/v1beta/models/m:streamGenerateContent", RelayFidelityTests.hello)
    #expect(ChunkedBody(answer.body).payload == "[" + Self.prettyRelayed + "]")
  }
}

/// ``CandidateParts`` inside the SSE framer: only the event that lacks parts changes, wherever the pieces
/// are cut, and its line ends stay the backend's.
@Suite struct SSEEventFramerPartsTests {
  static let lacking = #"{"candidates":[{"content":{"role":"model"},"finishReason":"STOP"}]}"#
  static let patched = #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP"}]}"#

  @Test func onlyTheEventWithoutPartsIsRewrittenWhateverThePieces() throws {
    let sent = "data: {\"a\":1}\n\n: keep-alive\n\ndata: \(Self.lacking)\n\ndata: {\"b\":2}\r\n\r\n"
    let relayed = "data: {\"a\":1}\n\n: keep-alive\n\ndata: \(Self.patched)\n\ndata: {\"b\":2}\r\n\r\n"
    let all = Array(sent.utf8)
    for split in 0...all.count {
      var framer = SSEEventFramer()
      let first = try framer.feed(Array(all[..<split]))
      let second = try framer.feed(Array(all[split...]))
      #expect(String(decoding: first.bytes + second.bytes, as: UTF8.self) == relayed, "split at \(split)")
      #expect((first.events + second.events).count == 3, "split at \(split)")
    }
  }

  @Test func aCRLFSplitBetweenPiecesIsRelayedWhole() throws {
    var framer = SSEEventFramer()
    let first = try framer.feed(Array("data: {\"a\":1}\r\n\r".utf8))
    let second = try framer.feed([0x0A])
    #expect(first.bytes + second.bytes == Array("data: {\"a\":1}\r\n\r\n".utf8))
    #expect(!framer.holdsPartialEvent)
  }

  @Test func anEventWithMultiLineDataIsWrittenAsOneDataLine() throws {
    var framer = SSEEventFramer()
    let sent = "id: 7\ndata: {\"candidates\":[{\"content\":\ndata: {\"role\":\"model\"}}]}\n\n"
    let relayed = try framer.feed(Array(sent.utf8))
    #expect(
      String(decoding: relayed.bytes, as: UTF8.self)
        == "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"\"}]}}]}\r\n\r\n")
  }
}

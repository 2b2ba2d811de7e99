import RouteSpec
import Testing

@testable import RouterRuntime

@Suite struct UpstreamEchoTests {
  static func request(_ body: String, method: String = "POST", path: String = "/v1/chat/completions")
    -> UpstreamRequest
  {
    UpstreamRequest(
      method: method, url: "echo://local\(path)", headers: [], body: Array(body.utf8), connectTimeout: .seconds(1),
      firstByteTimeout: .seconds(1), streamIdleTimeout: .seconds(1), totalTimeout: .seconds(1))
  }

  /// Every chunk of the answer, as sent.
  static func chunks(_ request: UpstreamRequest) async throws -> (status: Int, type: String?, chunks: [String]) {
    let response = try await EchoTransport().send(request)
    var chunks: [String] = []
    while let chunk = try await response.body.next() { chunks.append(String(decoding: chunk, as: UTF8.self)) }
    return (response.head.status, response.head.headers["Content-Type"], chunks)
  }

  /// The JSON of each `data:` event but `[DONE]`, and whether `[DONE]` came last.
  static func events(_ chunks: [String]) throws -> (events: [JSONValue], doneLast: Bool) {
    var events: [JSONValue] = []
    for chunk in chunks.dropLast() {
      #expect(chunk.hasPrefix("data: ") && chunk.hasSuffix("\n\n"), "\(chunk)")
      events.append(try JSONParser.parse(String(chunk.dropFirst("data: ".count).dropLast(2))))
    }
    return (events, chunks.last == "data: [DONE]\n\n")
  }

  @Test func streamsOneChunkPerWordWhoseConcatenationIsTheInput() async throws {
    let text = "  Hello,   wide\tworld! \u{e9}t\u{e9}  "
    let body =
      #"{"model":"echo-1","stream":true,"stream_options":{"include_usage":true},"messages":["#
      + #"{"role":"system","content":"Answer in French."},{"role":"user","content":"first question"},"#
      + #"{"role":"assistant","content":"an answer"},{"role":"user","content":[{"type":"text","text":"  Hello,   wide\tworld! "},"#
      + #"{"type":"image_url","image_url":{"url":"data:x"}},{"type":"text","text":"\u00e9t\u00e9  "}]}]}"#
    let (status, type, chunks) = try await Self.chunks(Self.request(body))
    #expect(status == 200)
    #expect(type == "text/event-stream")
    let (events, doneLast) = try Self.events(chunks)
    #expect(doneLast)
    let words = events.filter { $0["choices"]?.arrayValue?.first?["delta"]?["content"] != nil }
    #expect(words.count == 4, "one chunk per word")
    let contents = words.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }
    #expect(contents.joined() == text)
    #expect(contents.first == "  Hello,")
    #expect(words.first?["choices"]?.arrayValue?.first?["delta"]?["role"] == "assistant")
    for event in events.dropLast() {
      #expect(event["object"] == "chat.completion.chunk")
      #expect(event["model"] == "echo-1")
    }
    let finish = events[events.count - 2]
    #expect(finish["choices"]?.arrayValue?.first?["finish_reason"] == "stop")
    #expect(finish["choices"]?.arrayValue?.first?["delta"] == .object([]))
    let usage = events[events.count - 1]
    #expect(usage["choices"]?.arrayValue?.isEmpty == true)
    // Words of every message: 3 + 2 + 2 + 4.
    #expect(usage["usage"]?["prompt_tokens"] == 11)
    #expect(usage["usage"]?["completion_tokens"] == 4)
    #expect(usage["usage"]?["total_tokens"] == 15)
  }

  @Test func maxTokensCutsTheStreamWithLengthAndNoUsageUnlessAsked() async throws {
    let body =
      #"{"model":"m","stream":true,"max_completion_tokens":2,"messages":[{"role":"user","content":"a b c d"}]}"#
    let (_, _, chunks) = try await Self.chunks(Self.request(body))
    let (events, doneLast) = try Self.events(chunks)
    #expect(doneLast)
    #expect(events.count == 3, "two words and the finish chunk, no usage chunk")
    #expect(events.last?["choices"]?.arrayValue?.first?["finish_reason"] == "length")
    #expect(events.allSatisfy { $0["usage"] == nil })
  }

  @Test func neverAnswersMoreWordsThanItsOutputLimitWhateverWasAsked() async throws {
    let limit = EchoTransport.outputTokenLimit
    let text = String(repeating: "w ", count: limit + 10)
    for asked in ["", #","max_tokens":1000000"#] {
      let body = #"{"model":"m"\#(asked),"messages":[{"role":"user","content":"\#(text)"}]}"#
      let (_, _, chunks) = try await Self.chunks(Self.request(body))
      let answer = try JSONParser.parse(chunks.joined())
      let choice = answer["choices"]?.arrayValue?.first
      #expect(choice?["finish_reason"] == "length")
      #expect(choice?["message"]?["content"]?.stringValue?.split(separator: " ").count == limit)
      #expect(answer["usage"]?["completion_tokens"]?.intValue == Int64(limit))
    }
    // Embeddings: at most OpenAI's 2048 inputs, or a 400.
    let many = Array(repeating: #""x""#, count: EchoTransport.maxEmbeddingInputs + 1).joined(separator: ",")
    let refused = try await Self.chunks(
      Self.request(#"{"model":"m","input":[\#(many)]}"#, path: "/v1/embeddings"))
    #expect(refused.status == 400)
    // Exactly at the limit, nothing is cut and the trailing whitespace stays.
    let whole = String(repeating: "w ", count: limit)
    #expect(EchoTransport.words(whole, atMost: limit).joined() == whole)
    #expect(EchoTransport.words(" a b", atMost: 1) == [" a"])
    #expect(EchoTransport.words("a b", atMost: 0).isEmpty)
  }

  @Test func aPacedStreamSendsTheFirstWordAtOnceAndTheNextOnlyAfterThePace() async throws {
    let body = #"{"model":"echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}"#
    // A pace no test waits for: after the first word nothing more is sent, and cancelling stops the feed.
    let slow = try await EchoTransport(pace: .seconds(60)).send(Self.request(body))
    let first = String(decoding: try #require(try await slow.body.next()), as: UTF8.self)
    #expect(first.contains(#""content":"one""#) && !first.contains("two"))
    #expect(slow.body.bufferedBytes == 0 && !slow.body.isFinished)
    slow.body.cancel()
    await #expect(throws: UpstreamError.cancelled) { try await slow.body.next() }

    // A short pace delivers every word as its own piece, the end events with the last, in order.
    let fast = try await EchoTransport(pace: .milliseconds(1)).send(Self.request(body))
    var pieces: [String] = []
    while let piece = try await fast.body.next() { pieces.append(String(decoding: piece, as: UTF8.self)) }
    #expect(pieces.count == 3)
    #expect(pieces[1].contains(#""content":" two""#) && !pieces[1].contains("three"))
    #expect(pieces[2].contains(#""content":" three""#) && pieces[2].hasSuffix("data: [DONE]\n\n"))
    #expect(pieces.joined() == (try await Self.chunks(Self.request(body))).chunks.joined())
  }

  @Test func answersWholeWhenNotStreaming() async throws {
    let body = #"{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"one two three"}]}"#
    let (status, type, chunks) = try await Self.chunks(Self.request(body))
    #expect(status == 200)
    #expect(type == "application/json")
    let json = try JSONParser.parse(chunks.joined())
    #expect(json["object"] == "chat.completion")
    #expect(json["model"] == "m")
    let choice = json["choices"]?.arrayValue?.first
    #expect(choice?["message"]?["role"] == "assistant")
    #expect(choice?["message"]?["content"] == "one two")
    #expect(choice?["finish_reason"] == "length")
    #expect(json["usage"]?["prompt_tokens"] == 3)
    #expect(json["usage"]?["completion_tokens"] == 2)
  }

  @Test func whitespaceIsNoWordAndEmptyInputStillEndsProperly() async throws {
    let body =
      #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"   "}]}"#
    let (_, _, chunks) = try await Self.chunks(Self.request(body))
    let (events, doneLast) = try Self.events(chunks)
    #expect(doneLast)
    #expect(events.last?["usage"]?["prompt_tokens"] == 0)
    #expect(events.last?["usage"]?["completion_tokens"] == 0)
    let empty = #"{"model":"m","stream":true,"messages":[]}"#
    let (_, _, emptyChunks) = try await Self.chunks(Self.request(empty))
    #expect(emptyChunks.last == "data: [DONE]\n\n")
  }

  @Test func listsItsModelEmbedsDeterministicallyAndAnswers404Otherwise() async throws {
    let (status, _, models) = try await Self.chunks(Self.request("", method: "GET", path: "/v1/models"))
    #expect(status == 200)
    #expect(try JSONParser.parse(models.joined())["data"]?.arrayValue?.first?["id"] == "echo")

    let embed = Self.request(#"{"model":"e","input":["same","other"]}"#, path: "/v1/embeddings")
    let first = try JSONParser.parse(try await Self.chunks(embed).chunks.joined())
    let second = try JSONParser.parse(try await Self.chunks(embed).chunks.joined())
    #expect(first == second)
    let vectors = first["data"]?.arrayValue?.compactMap { $0["embedding"]?.arrayValue } ?? []
    #expect(vectors.count == 2)
    #expect(vectors.first?.count == 8)
    #expect(vectors.first != vectors.last)

    let (missing, _, error) = try await Self.chunks(Self.request("{}", path: "/v1/completions"))
    #expect(missing == 404)
    let json = try JSONParser.parse(error.joined())
    #expect(json["error"]?["type"] == "invalid_request_error")
    #expect(json["error"]?["message"]?.stringValue?.isEmpty == false)
  }
}

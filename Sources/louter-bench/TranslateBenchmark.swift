import Foundation
import Glibc
import RouteSpec
import RouterRuntime

/// The CPU louter's own code spends on one translated request, without sockets or other processes.
///
/// `swift run -c release louter-bench translate [--iterations N]`: per stage and in all, the thread CPU time
/// per request (median of 5 runs) of what a translated Gemini `generateContent` does in louter: parse the
/// client's request head and body, decode and translate it, build and check the upstream request, translate
/// the OpenAI answer back and serialise it; and a streamed answer's chunks. Thread CPU time, not wall time,
/// so that other processes on a shared machine disturb it little.
enum TranslateBenchmark {
  static let geminiBody = Array(
    #"{"systemInstruction":{"parts":[{"text":"You are a concise assistant."}]},"contents":[{"role":"user","parts":[{"text":"Say hello"}]},{"role":"model","parts":[{"text":"Hello! How can I help you today?"}]},{"role":"user","parts":[{"text":"Tell me a short joke about routers, in one line."}]}],"generationConfig":{"temperature":0.7,"topP":0.95,"maxOutputTokens":256,"candidateCount":1},"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}"#
      .utf8)

  static let clientHead = Array(
    ("POST /v1beta/models/bench-model:generateContent HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      + "User-Agent: google-genai-sdk/1.0 gl-python/3.12\r\nx-goog-api-key: bench\r\nAccept: */*\r\n"
      + "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n"
      + "Content-Length: \(geminiBody.count)\r\n\r\n").utf8)

  static let answer = Array(
    #"{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Why did the router break up with the switch? It needed more space to forward."},"finish_reason":"stop"}],"usage":{"prompt_tokens":39,"completion_tokens":17,"total_tokens":56}}"#
      .utf8)

  /// The upstream's answer as one read: a typical head, then `answer`.
  static let upstreamAnswer =
    Array(
      ("HTTP/1.1 200 OK\r\ndate: Wed, 02 Dec 2026 06:00:00 GMT\r\nserver: uvicorn\r\n"
        + "content-type: application/json\r\nx-request-id: req-0123456789abcdef\r\n"
        + "openai-processing-ms: 412\r\ncontent-length: \(answer.count)\r\n\r\n").utf8) + answer

  static let chunks: [String] =
    (0..<8).map {
      #"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,"model":"bench-model","choices":[{"index":0,"delta":{"content":"word\#($0) "},"finish_reason":null}]}"#
    } + [
      #"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
      #"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,"model":"bench-model","choices":[],"usage":{"prompt_tokens":39,"completion_tokens":8,"total_tokens":47}}"#,
      "[DONE]",
    ]

  /// The calling thread's CPU time in nanoseconds.
  static func threadCPUNanoseconds() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return spec.tv_sec * 1_000_000_000 + spec.tv_nsec
  }

  /// Median over 5 runs of the CPU µs per call of `body`, run `iterations` times per run.
  static func measure(_ iterations: Int, _ body: () throws -> Int) rethrows -> Double {
    var sink = 0
    var runs: [Double] = []
    for _ in 0..<5 {
      let start = threadCPUNanoseconds()
      for _ in 0..<iterations { sink &+= try body() }
      runs.append(Double(threadCPUNanoseconds() - start) / Double(iterations) / 1000)
    }
    if sink == 42 { print("") }  // keeps the work observable
    return runs.sorted()[2]
  }

  static func clientRequest() -> Int {
    var parser = HTTPRequestParser()
    var count = 0
    for event in parser.feed(clientHead + geminiBody) {
      if case .request(let request) = event { count += request.body.count }
    }
    return count
  }

  static func upstreamAnswerParse() -> Int {
    var parser = HTTPResponseParser()
    var count = 0
    for case .body(let bytes) in parser.feed(upstreamAnswer) { count += bytes.count }
    return count
  }

  static func translateRequest() throws -> Int {
    let json = try JSONParser.parse(geminiBody, syntax: .geminiRequest)
    let decoded = try GeminiRequest.decode(json)
    let translated = try GeminiToOpenAI.translate(decoded, model: "bench-model", dialect: .openAI, stream: false)
    return translated.bodyBytes.count
  }

  static func upstreamRequest() throws -> Int {
    let url = try UpstreamURL(
      base: "http://127.0.0.1:8081/v1", path: [try PathSegment("chat"), try PathSegment("completions")])
    let headers = [
      try UpstreamHeaderField("content-type", "application/json"),
      try UpstreamHeaderField("accept", "application/json"),
      try UpstreamHeaderField("authorization", "Bearer sk-bench-0123456789abcdef"),
    ]
    let request = UpstreamRequest(
      post: url, headers: headers, body: answer, connectTimeout: .seconds(5), firstByteTimeout: .seconds(60),
      streamIdleTimeout: .seconds(60), totalTimeout: .seconds(600))
    try request.checkedForWire()
    return request.url.utf8.count
  }

  static let options = GeminiResponseOptions(modelVersion: "bench-model", responseId: "bench")

  static func translateAnswer() throws -> Int {
    try OpenAIToGemini.translatedBytes(answer: answer, options: options).bytes.count
  }

  static func translateStream() -> Int {
    var translator = OpenAIStreamTranslator(options: options)
    var count = 0
    for chunk in chunks {
      for output in translator.translate(chunk) { count += GeminiSSEWriter.event(output).count }
    }
    return count
  }

  static func run(_ arguments: [String]) throws {
    var iterations = 20000
    if let index = arguments.firstIndex(of: "--iterations"), index + 1 < arguments.count,
      let value = Int(arguments[index + 1]), value > 0
    {
      iterations = value
    }
    print("translate benchmark (release build, thread CPU µs per call, median of 5 runs of \(iterations))")
    let stages: [(String, () throws -> Int)] = [
      ("client request head + body (HTTPRequestParser)", clientRequest),
      ("Gemini request → OpenAI body (parse, decode, translate, serialise)", translateRequest),
      ("upstream URL, headers, checkedForWire", upstreamRequest),
      ("upstream answer head + body (HTTPResponseParser)", upstreamAnswerParse),
      ("OpenAI answer → Gemini answer (parse, translate, serialise)", translateAnswer),
      ("streamed answer, 11 chunks → Gemini SSE events", translateStream),
    ]
    var total = 0.0
    for (name, stage) in stages {
      let micros = try measure(iterations, stage)
      if !name.hasPrefix("streamed"), !name.hasPrefix("upstream answer") { total += micros }
      print("  \(name): \(String(format: "%.2f", micros)) µs")
    }
    print("  non-streamed request in all (the first four): \(String(format: "%.2f", total)) µs")
  }
}

import RouteSpec
import Testing

@testable import RouterRuntime

@Suite struct TranslationErrorTests {
  private func mapped(
    _ status: Int, _ body: String = #"{"error":{"message":"m","type":"t","param":null,"code":null}}"#,
    retryAfter: String? = nil, clientKey: Bool = false
  ) -> GeminiError? {
    if case .error(let error) = UpstreamErrorMapper.map(
      status: status, body: Array(body.utf8), retryAfter: retryAfter, backend: "b", clientKeyForwarded: clientKey)
    {
      return error
    }
    return nil
  }

  @Test func trimmingWhitespaceTrimsUnicodeWhitespaceAndKeepsTheRest() {
    let cases: [(String, String)] = [
      (#"{"a":1}"#, #"{"a":1}"#), (" {\"a\":1}\n", #"{"a":1}"#), ("\r\n\t x \u{B}\u{C}", "x"),
      ("\u{A0}x\u{2028}", "x"), ("a \u{301}", "a"), ("\u{301}a", "\u{301}a"), ("", ""), ("  ", ""),
      ("[DONE]", "[DONE]"), ("é x é", "é x é"),
    ]
    for (text, trimmed) in cases {
      #expect(text.trimmingWhitespace() == trimmed, "\(Array(text.unicodeScalars))")
    }
  }

  @Test func everyStatusMapping() {
    let table: [(Int, Int, String)] = [
      (400, 400, "INVALID_ARGUMENT"), (413, 400, "INVALID_ARGUMENT"), (422, 400, "INVALID_ARGUMENT"),
      (401, 500, "INTERNAL"), (403, 500, "INTERNAL"), (404, 404, "NOT_FOUND"), (408, 504, "DEADLINE_EXCEEDED"),
      (409, 409, "ABORTED"), (429, 429, "RESOURCE_EXHAUSTED"), (500, 500, "INTERNAL"), (501, 501, "UNIMPLEMENTED"),
      (502, 503, "UNAVAILABLE"), (503, 503, "UNAVAILABLE"), (504, 504, "DEADLINE_EXCEEDED"),
      (418, 400, "INVALID_ARGUMENT"), (599, 500, "INTERNAL"),
    ]
    for (upstream, code, status) in table {
      let error = mapped(upstream)
      #expect(error?.code == code, "\(upstream)")
      #expect(error?.status == status, "\(upstream)")
    }
    #expect(mapped(401, clientKey: true)?.code == 401)
    #expect(mapped(401, clientKey: true)?.status == "UNAUTHENTICATED")
    #expect(mapped(403, clientKey: true)?.status == "PERMISSION_DENIED")
    #expect(mapped(401)?.message == "upstream authentication failed: m")
  }

  @Test func fullBodyShape() {
    let error = mapped(
      404,
      #"{"error":{"message":"The model `gpt-5x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#
    )
    #expect(
      error?.json.serialized()
        == #"{"error":{"code":404,"message":"The model `gpt-5x` does not exist","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"model_not_found","domain":"louter","metadata":{"backend":"b","upstreamStatus":"404"}}]}}"#
    )
  }

  @Test func retryAfterBecomesRetryInfo() {
    let error = mapped(
      429, #"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
      retryAfter: "37")
    #expect(
      error?.json.serialized()
        == #"{"error":{"code":429,"message":"Rate limit reached","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"rate_limit_exceeded","domain":"louter","metadata":{"backend":"b","upstreamStatus":"429","retryAfter":"37s"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#
    )
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: nil, milliseconds: "1500") == "1.500s")
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: " 2 ") == "2s")
    // An HTTP-date is measured against now: 90 s ahead, or already past (come back at once).
    let date = "Wed, 21 Oct 2015 07:28:00 GMT"
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: date, now: 1_445_412_480 - 90) == "90s")
    #expect(UpstreamErrorMapper.retryDelay(retryAfter: date, now: 1_445_412_480 + 5) == "0s")
    #expect(mapped(429)?.details.count == 1)
  }

  @Test func contextLengthAndOldVLLMAndRawText() {
    let context = mapped(
      400,
      #"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#
    )
    #expect(context?.code == 400)
    #expect(
      context?.message
        == "The input exceeds the model's context window (context length exceeded): This model's maximum context length is 8192 tokens."
    )
    let vllm = mapped(
      400, #"{"object":"error","message":"bad temperature","type":"BadRequestError","param":null,"code":400}"#)
    #expect(vllm?.message == "bad temperature")
    #expect(vllm?.details.first?["reason"] == "400")
    let raw = mapped(502, "  <html>Bad Gateway</html>\n")
    #expect(raw?.message == "<html>Bad Gateway</html>")
    #expect(raw?.details.first?["reason"] == "UPSTREAM_HTTP_502")
    #expect(mapped(500, "")?.message == "upstream returned HTTP 500")
    #expect(mapped(400, #"{"error":"plain string"}"#)?.message == "plain string")
  }

  @Test func azurePromptFilterBecomesBlockedPrompt() {
    let outcome = UpstreamErrorMapper.map(
      status: 400,
      body: Array(
        #"{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#
          .utf8), backend: "azure")
    #expect(
      outcome == .promptBlocked(.object([JSONMember("promptFeedback", .object([JSONMember("blockReason", "SAFETY")]))]))
    )
  }

  @Test func statusNames() {
    #expect(
      GeminiError.invalidArgument("x").json.serialized()
        == #"{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT"}}"#)
    #expect(GeminiError.deadlineExceeded("t").code == 504)
    #expect(GeminiError.notFound("n").status == "NOT_FOUND")
  }
}

@Suite struct TranslationEmbeddingTests {
  @Test func batchEmbedRoundTrip() throws {
    let request = try EmbeddingTranslator.openAIRequest(
      trJSON(
        #"{"requests":[{"model":"models/emb","content":{"parts":[{"text":"a"},{"text":"b"}]},"taskType":"RETRIEVAL_QUERY","outputDimensionality":8.0},{"model":"emb","content":{"parts":{"text":"c"}},"outputDimensionality":8}]}"#
      ), batch: true, urlModel: "emb", backendModel: "text-embedding-3-small")
    #expect(
      request.body.serialized()
        == #"{"model":"text-embedding-3-small","input":["ab","c"],"encoding_format":"float","dimensions":8}"#)
    #expect(request.count == 2)
    #expect(request.warnings.dropped == ["requests[0].taskType"])
    let response = try EmbeddingTranslator.geminiResponse(
      trJSON(
        #"{"object":"list","data":[{"index":1,"object":"embedding","embedding":[0.5]},{"index":0,"object":"embedding","embedding":[0.25,1]}],"usage":{"prompt_tokens":2,"total_tokens":2}}"#
      ),
      batch: true, expectedCount: 2)
    #expect(response.serialized() == #"{"embeddings":[{"values":[0.25,1]},{"values":[0.5]}]}"#)
  }

  @Test func singleEmbedAndErrors() throws {
    let request = try EmbeddingTranslator.openAIRequest(
      trJSON(#"{"content":{"parts":[{"text":"hello"}]},"title":"t"}"#), batch: false, urlModel: "emb", backendModel: "e"
    )
    #expect(request.body.serialized() == #"{"model":"e","input":["hello"],"encoding_format":"float"}"#)
    #expect(request.warnings.dropped == ["title"])
    let response = try EmbeddingTranslator.geminiResponse(
      trJSON(#"{"data":[{"index":0,"embedding":[1,2]}]}"#), batch: false, expectedCount: 1)
    #expect(response.serialized() == #"{"embedding":{"values":[1,2]}}"#)
    #expect(throws: GeminiRequestError.self) {
      try EmbeddingTranslator.openAIRequest(
        trJSON(#"{"requests":[{"model":"models/other","content":{"parts":[{"text":"a"}]}}]}"#), batch: true,
        urlModel: "emb", backendModel: "e")
    }
    #expect(throws: GeminiRequestError.self) {
      try EmbeddingTranslator.openAIRequest(
        trJSON(#"{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}"#), batch: false,
        urlModel: "emb", backendModel: "e")
    }
    #expect(throws: GeminiError.self) {
      try EmbeddingTranslator.geminiResponse(trJSON(#"{"data":[]}"#), batch: false, expectedCount: 1)
    }
  }

  @Test func countTokensEstimate() throws {
    // "hello world!" = 12 bytes → 3 tokens; + 4 per content + 3 priming.
    #expect(
      try TokenEstimator.countTokensResponse(body: trJSON(#"{"contents":[{"parts":[{"text":"hello world!"}]}]}"#))
        .serialized()
        == #"{"totalTokens":10}"#)
    #expect(
      try TokenEstimator.countTokensResponse(
        body: trJSON(
          #"{"generateContentRequest":{"contents":[{"parts":[{"text":"abcde"},{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}]}}"#
        )
      ).serialized() == #"{"totalTokens":267}"#)
    #expect(TokenEstimator.tokens("") == 0)
    #expect(TokenEstimator.tokens("é") == 1)
  }
}

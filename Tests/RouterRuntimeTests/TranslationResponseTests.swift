import RouteSpec
import Testing

@testable import RouterRuntime

let trResponseOptions = GeminiResponseOptions(modelVersion: "route-model", responseId: "louter-1", backend: "openai")

func trGeminiResponse(_ text: String, includeThoughts: Bool = false) throws -> GeminiTranslatedResponse {
  var options = trResponseOptions
  options.includeThoughts = includeThoughts
  return try OpenAIToGemini.translate(trJSON(text), options: options)
}

@Suite struct TranslationResponseTests {
  @Test func textAnswerWithUsage() throws {
    let result = try trGeminiResponse(
      #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null,"annotations":[]},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp"}"#
    )
    #expect(
      result.json.serialized()
        == #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello!"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":3,"totalTokenCount":12},"modelVersion":"gpt-4o-2024","responseId":"chatcmpl-1"}"#
    )
    #expect(result.warnings.isEmpty)
  }

  @Test func toolCallsAndEmptyArgs() throws {
    let result = try trGeminiResponse(
      #"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":"tool_calls"}]}"#
    )
    #expect(
      result.json.serialized()
        == #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"call_a","name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"id":"call_b","name":"get_time","args":{}}}]},"finishReason":"STOP","index":0}],"modelVersion":"route-model","responseId":"louter-1"}"#
    )
  }

  @Test func malformedArgumentsBecomeMalformedFunctionCall() throws {
    for arguments in [#"{\"city\": "#, #"[1,2]"#, #"42"#] {
      let result = try trGeminiResponse(
        #"{"choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"\#(arguments)"}}]},"finish_reason":"tool_calls"}]}"#
      )
      let candidate = try #require(result.json["candidates"]?.arrayValue?.first)
      #expect(candidate["finishReason"] == "MALFORMED_FUNCTION_CALL")
      #expect(candidate["finishMessage"]?.stringValue?.hasPrefix(#"Malformed function call "f""#) == true)
      #expect(candidate["content"]?.serialized() == #"{"role":"model","parts":[{"text":"Let me check."}]}"#)
    }
  }

  @Test func everyFinishReason() throws {
    let table: [(String, String)] = [
      (#""stop""#, "STOP"), (#""length""#, "MAX_TOKENS"), (#""tool_calls""#, "STOP"), (#""function_call""#, "STOP"),
      (#""content_filter""#, "SAFETY"), ("null", "OTHER"), (#""abort""#, "OTHER"), (#""error""#, "OTHER"),
    ]
    for (openAI, gemini) in table {
      let result = try trGeminiResponse(
        #"{"choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":\#(openAI)}]}"#)
      #expect(result.json["candidates"]?.arrayValue?.first?["finishReason"] == .string(gemini), "\(openAI)")
    }
  }

  @Test func multipleCandidatesSortedAndEmptyContent() throws {
    let result = try trGeminiResponse(
      #"{"choices":[{"index":1,"message":{"role":"assistant","content":"B"},"finish_reason":"length"},{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#
    )
    #expect(
      result.json["candidates"]?.serialized()
        == #"[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0},{"content":{"role":"model","parts":[{"text":"B"}]},"finishReason":"MAX_TOKENS","index":1}]"#
    )
  }

  @Test func reasoningOnlyWithIncludeThoughtsAndUsageArithmetic() throws {
    let body =
      #"{"choices":[{"index":0,"message":{"role":"assistant","content":"42","reasoning_content":"think"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":30,"total_tokens":40,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":25}}}"#
    let hidden = try trGeminiResponse(body)
    #expect(hidden.json["candidates"]?.arrayValue?.first?["content"]?["parts"]?.serialized() == #"[{"text":"42"}]"#)
    #expect(
      hidden.json["usageMetadata"]?.serialized()
        == #"{"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":40,"cachedContentTokenCount":4,"thoughtsTokenCount":25}"#
    )
    let shown = try trGeminiResponse(body, includeThoughts: true)
    #expect(
      shown.json["candidates"]?.arrayValue?.first?["content"]?["parts"]?.serialized()
        == #"[{"text":"think","thought":true},{"text":"42"}]"#)
    let vllm = try trGeminiResponse(
      #"{"choices":[{"index":0,"message":{"role":"assistant","content":"a","reasoning":"r"},"finish_reason":"stop"}]}"#,
      includeThoughts: true)
    #expect(vllm.json["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["thought"] == true)
    // No usage → no usageMetadata (never zeros).
    #expect(vllm.json["usageMetadata"] == nil)
    #expect(OpenAIToGemini.usageMetadata(.null) == nil)
    #expect(OpenAIToGemini.usageMetadata(.object([])) == nil)
  }

  @Test func refusalAndLogprobs() throws {
    let result = try trGeminiResponse(
      #"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't."},"finish_reason":"stop","logprobs":{"content":[{"token":"I","logprob":-0.5,"top_logprobs":[{"token":"I","logprob":-0.5},{"token":"We","logprob":-1.5}]},{"token":"!","logprob":-1.5,"top_logprobs":[]}]}}]}"#
    )
    let candidate = try #require(result.json["candidates"]?.arrayValue?.first)
    #expect(candidate["content"]?["parts"]?.serialized() == #"[{"text":"I can't."}]"#)
    #expect(result.warnings.approximated == ["refusal"])
    #expect(candidate["avgLogprobs"] == .double(-1))
    #expect(
      candidate["logprobsResult"]?.serialized()
        == #"{"topCandidates":[{"candidates":[{"token":"I","logProbability":-0.5},{"token":"We","logProbability":-1.5}]},{"candidates":[]}],"chosenCandidates":[{"token":"I","logProbability":-0.5},{"token":"!","logProbability":-1.5}]}"#
    )
  }

  @Test func badBodiesAreErrors() throws {
    #expect(throws: GeminiError.internal("upstream returned a response without choices")) {
      try trGeminiResponse(#"{"id":"x"}"#)
    }
    do {
      _ = try trGeminiResponse(#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#)
      Issue.record("expected an error")
    } catch let error as GeminiError {
      #expect(error.code == 429)
      #expect(error.status == "RESOURCE_EXHAUSTED")
    }
  }
}

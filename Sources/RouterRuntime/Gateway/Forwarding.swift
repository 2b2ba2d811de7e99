import RouteCompiler
import RouteSpec

/// The state of forwarding one request along its chain.
struct Forwarding {
  let call: GeminiCall
  let plan: ForwardPlan
  let body: JSONValue
  let key: String?
  let stream: Bool
  /// The request after route actions, decoded once for every translating hop.
  var decoded: GeminiRequest?
  /// The passthrough body, patched once for every Gemini hop.
  var passthroughBody: [UInt8]?
  var failures: [HopFailure] = []
  /// The route's fallback rule.
  let policy: FallbackPolicy
  /// The route's retry rule.
  let retry: RetryPolicy
  /// The OpenAI front's request, when the client speaks OpenAI (`call` then names the Gemini method it becomes).
  var openAI: OpenAIChat?
  /// Whether this request's stream could be continued by another backend (not JSON mode).
  let requestContinuable: Bool
  /// For the hop being tried: a break mid-stream may be continued by the next backend.
  var canContinue = false
  /// Set once a stream broke after bytes reached the client: every later hop continues that answer.
  var resume: StreamResume?

  init(call: GeminiCall, plan: ForwardPlan, body: JSONValue, key: String?, stream: Bool) {
    self.call = call
    self.plan = plan
    self.policy = FallbackPolicy(fallbackOn: plan.fallbackOn)
    self.retry = RetryPolicy(rule: plan.retry)
    self.body = body
    self.key = key
    self.stream = stream
    self.requestContinuable = Self.continuable(body)
  }

  /// Notes a stream that broke mid-answer: the next hop gets the text so far as a prefill, so the request
  /// is built again.
  mutating func resume(after failure: HopFailure, _ facts: RelayFacts, sse: Bool) {
    var resume =
      self.resume
      ?? StreamResume(sse: sse, openAI: openAI != nil, text: "", outputTokens: 0, originalBreak: failure)
    resume.add(facts)
    resume.lastFacts = facts
    self.resume = resume
    decoded = nil
    passthroughBody = nil
    openAI?.translated = nil
  }
}

/// Why one hop did not serve the request (nothing was sent to the client).
struct HopFailure: Error {
  let backend: String
  /// What went wrong, for the fallback decision, passive health and the final status.
  let fault: HopFault
  let error: GeminiError
  /// Short text for the request record (`503`, `connect`, `busy`).
  let outcome: String
}

/// What a hop did.
enum HopResult {
  /// The client got an answer (possibly an in-band error after the stream began); `healthy` feeds passive health.
  case served(healthy: Bool?)
  /// Nothing was sent: the chain may go on.
  case failed(HopFailure)
  /// A stream broke after part of the answer reached the client, and the next backend may continue it: the
  /// response is still open, and the facts say what was streamed.
  case broken(HopFailure, RelayFacts)
}

extension Exchange {
  /// Tries the chain's backends in order, retrying one as ``RetryPolicy`` says and moving on as
  /// ``FallbackPolicy`` says, until one answers; a stream that breaks mid-answer is continued by the next.
  mutating func forward(_ forwarding: inout Forwarding) async {
    let backends = snapshot.backends
    var chain = forwarding.plan.chain
    if !forwarding.plan.groups.isEmpty {
      var random = SystemRandomNumberGenerator()
      chain = ChainOrder.arrange(
        chain, groups: forwarding.plan.groups, inFlight: { backends[$0].health.inFlight }, using: &random)
    }
    for (position, index) in chain.enumerated() {
      let runtime = backends[index]
      let hasNext = position < chain.count - 1
      forwarding.canContinue =
        hasNext && forwarding.stream && forwarding.plan.continueOnBreak && forwarding.requestContinuable
      var retries = 0
      attempts: while true {
        if Task.isCancelled {
          clientWentAway()
          return
        }
        let failure: HopFailure
        switch await attempt(runtime, &forwarding, lastResort: !hasNext) {
        case .served:
          return
        case .broken(let broke, let facts):
          log(.hopEnded(backend: runtime.backend.name, outcome: broke.outcome))
          forwarding.resume(after: broke, facts, sse: forwarding.call.isSSE(request: request))
          break attempts
        case .failed(let failed):
          failure = failed
        }
        log(.hopEnded(backend: runtime.backend.name, outcome: failure.outcome))
        forwarding.failures.append(failure)
        forwarding.resume?.later.append(failure)
        // Read only once a hop has failed: a request served at once never needs it.
        let remaining = Self.clientDeadline(request, started: started).map { MonotonicInstant.now.duration(to: $0) }
        let retry = forwarding.retry.decide(
          failure.fault, retries: retries, remaining: remaining, jitter: Double.random(in: 0.5...1))
        if case .retry(let wait) = retry {
          retries += 1
          do {
            // Bounded by `max_wait` and the client's own deadline; a client that goes away cancels it.
            try await Task.sleep(for: wait)
          } catch {
            clientWentAway()
            return
          }
          continue
        }
        // A hop that failed has sent nothing: bytes that reach the client make it `.served` or `.broken`.
        switch forwarding.policy.decide(failure.fault, at: .beforeAnswer(hasNext: hasNext)) {
        case .next:
          break attempts
        case .answer:
          // After a break, a backend that refuses the continuation (a prefill it will not take) must not
          // mask the break: the client learns what broke.
          if let resume = forwarding.resume {
            await endBroken(resume)
          } else {
            await fail(failure.error, headers: [("x-louter-backend", failure.backend)])
          }
          return
        case .fail(.clientGone):
          clientWentAway()
          return
        case .fail(.spent):
          break attempts
        }
      }
    }
    if Task.isCancelled {
      clientWentAway()
      return
    }
    if let resume = forwarding.resume {
      await endBroken(resume)
      return
    }
    // The openai SDKs retry 429 and 5xx twice by themselves: after a whole chain has failed, that would
    // only multiply the load.
    let noRetry = front == .openai && forwarding.failures.count > 1 ? [("x-should-retry", "false")] : []
    await fail(Self.aggregate(forwarding.failures), headers: noRetry)
  }

  /// Ends a response whose stream broke and that no backend could continue: the original break as the
  /// in-band error, the response without its terminating chunk.
  mutating func endBroken(_ resume: StreamResume) async {
    let error = resume.finalError(after: resume.later)
    _ = try? await responder.write(resume.errorBytes(error))
    responder.abort()
    var facts = resume.lastFacts
    facts.status = error.code
    facts.committedAt = nil
    log(.streamed(facts))
  }

  /// One try of one backend, with its admission slot taken and given back.
  mutating func attempt(_ runtime: BackendRuntime, _ forwarding: inout Forwarding, lastResort: Bool) async
    -> HopResult
  {
    if let refused = precheck(runtime, key: forwarding.key, lastResort: lastResort) { return .failed(refused) }
    let result: HopResult
    switch (forwarding.openAI != nil, runtime.backend.protocolName) {
    case (false, .gemini): result = await passthroughHop(runtime, &forwarding)
    case (false, .openai), (false, .echo): result = await translatedHop(runtime, &forwarding)
    case (true, .gemini): result = await openAIToGeminiHop(runtime, &forwarding)
    case (true, .openai), (true, .echo): result = await openAIPassthroughHop(runtime, &forwarding)
    }
    switch result {
    case .served(let healthy):
      runtime.health.release(healthy: healthy)
      log(.hopEnded(backend: runtime.backend.name, outcome: "ok"))
    case .failed(let failed), .broken(let failed, _):
      runtime.health.release(healthy: failed.fault.countsAgainstHealth ? false : nil)
    }
    return result
  }

  /// When the client stops waiting, if it said: google-genai sends `x-server-timeout` (whole seconds), the
  /// openai SDKs `x-stainless-timeout` (seconds, maybe with a fraction). Read with saturation; nil otherwise.
  static func clientDeadline(_ request: HTTPRequest, started: MonotonicInstant) -> MonotonicInstant? {
    for name in ["x-server-timeout", "x-stainless-timeout"] {
      guard let text = request.headers[name]?.trimmingWhitespace(),
        let seconds = RetryAfter.wholePart(text, maximum: RetryAfter.maxMilliseconds / 1000)
      else { continue }
      return started.advanced(by: .seconds(seconds))
    }
    return nil
  }

  /// The client is gone: nothing more is sent.
  mutating func clientWentAway() {
    log(.clientGone)
  }

  /// A backend that cannot be tried at all: no key, or no slot.
  func precheck(_ runtime: BackendRuntime, key: String?, lastResort: Bool) -> HopFailure? {
    let backend = runtime.backend
    if backend.protocolName != .echo {
      if backend.forwardKey, key == nil {
        return HopFailure(
          backend: backend.name, fault: .skipped,
          error: .unavailable("backend '\(backend.name)' forwards the client's key, but none was presented"),
          outcome: "no-key")
      }
      if !backend.forwardKey, backend.hasAPIKey, (backend.apiKey ?? "").isEmpty {
        return HopFailure(
          backend: backend.name, fault: .skipped,
          error: .unavailable("backend '\(backend.name)' has an empty api_key"), outcome: "no-key")
      }
    }
    switch runtime.health.acquire(lastResort: lastResort) {
    case nil:
      return nil
    case .busy(let limit)?:
      return HopFailure(
        backend: backend.name, fault: .busy,
        error: GeminiError(.resourceExhausted, message: "backend '\(backend.name)' is at max_concurrency \(limit)"),
        outcome: "busy")
    case .coolingDown(let remaining)?:
      return HopFailure(
        backend: backend.name, fault: .unhealthy,
        error: .unavailable("backend '\(backend.name)' is cooling down after repeated failures (\(remaining) ms left)"),
        outcome: "cooling-down")
    }
  }

  /// The error for a request every backend failed: the most telling status, and every backend with its reason.
  static func aggregate(_ failures: [HopFailure]) -> GeminiError {
    guard let last = failures.last else { return .unavailable("the route's chain has no usable backend") }
    if failures.count == 1 { return last.error }
    let reasons = failures.map { "\($0.backend): \($0.error.message)" }.joined(separator: "; ")
    // A retried backend is listed once per try but counted once.
    let backendCount = Set(failures.map(\.backend)).count
    let message =
      backendCount == 1
      ? "\(failures.count) tries of backend '\(last.backend)' failed: \(reasons)"
      : "all \(backendCount) backends failed: \(reasons)"
    let faults = failures.map(\.fault)
    if let first = failures.first?.error, first.code != 499,
      failures.allSatisfy({ $0.error.code == first.code && $0.error.rpc == first.rpc })
    {
      return GeminiError(first.rpc, message: message, httpStatus: first.code)
    }
    if faults.allSatisfy({ $0.trigger == .rateLimited || $0 == .busy || $0 == .unhealthy }) {
      return GeminiError(.resourceExhausted, message: message)
    }
    if faults.allSatisfy({ $0.trigger == .timeout }) { return .deadlineExceeded(message) }
    if faults.allSatisfy({ $0.trigger == .serverError }) {
      return GeminiError(.unavailable, message: message, httpStatus: 502)
    }
    return .unavailable(message)
  }

  /// A hop failure from a transport error; `midStream` when the client's stream had begun, which only
  /// words the error the client sees.
  static func failure(_ error: UpstreamError, backend: String, midStream: Bool = false) -> HopFailure {
    switch error {
    case .timedOut(let phase):
      let message =
        midStream
        ? "backend '\(backend)' stalled mid-stream: \(error.reason)" : "backend '\(backend)': \(error.reason)"
      return HopFailure(
        backend: backend, fault: .timedOut(phase), error: .deadlineExceeded(message), outcome: "timeout")
    case .cancelled:
      return HopFailure(
        backend: backend, fault: .cancelledByClient, error: GeminiError(.cancelled, message: "client went away"),
        outcome: "cancelled")
    case .connectFailed:
      return HopFailure(
        backend: backend, fault: .connectFailed, error: .unavailable("backend '\(backend)': \(error.reason)"),
        outcome: "connect")
    case .invalidRequest:
      // The typed builders refuse such text first; whatever slips through is sent nowhere, and another
      // backend would get the same request.
      return HopFailure(
        backend: backend, fault: .rejected,
        error: .invalidArgument("The request cannot be forwarded: \(error.reason)."), outcome: "not-sent")
    case .connectionReset, .invalidResponse, .tooLarge:
      let message =
        midStream
        ? "backend '\(backend)' broke off the stream: \(error.reason)" : "backend '\(backend)': \(error.reason)"
      return HopFailure(backend: backend, fault: .reset, error: .unavailable(message), outcome: "reset")
    }
  }

  /// A hop failure from an upstream HTTP error answer, or from an error event before the stream began.
  static func failure(status: Int, retryAfter: Duration?, error: GeminiError, backend: String, outcome: String? = nil)
    -> HopFailure
  {
    HopFailure(
      backend: backend, fault: .upstreamStatus(status, retryAfter: retryAfter), error: error,
      outcome: outcome ?? String(status))
  }
}

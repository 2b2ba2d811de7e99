/// The deadlines of one loop: a binary min-heap of instants, each with a payload.
///
/// Cancelling is lazy: the entry leaves the payload table at once and is skipped when it reaches the top,
/// so `cancel` is O(1) and the heap never needs a search. A pure value, tested without a loop.
struct TimerHeap<Payload> {
  /// Names one scheduled deadline.
  struct ID: Hashable, Sendable {
    fileprivate let value: UInt64
  }

  private struct Entry {
    let deadline: MonotonicInstant
    let id: UInt64
  }

  private var heap: [Entry] = []
  private var payloads: [UInt64: Payload] = [:]
  private var nextID: UInt64 = 1

  /// Deadlines scheduled and not yet fired or cancelled.
  var count: Int { payloads.count }

  /// Schedules `payload` for `deadline`.
  mutating func schedule(at deadline: MonotonicInstant, _ payload: Payload) -> ID {
    let id = nextID
    nextID &+= 1
    payloads[id] = payload
    heap.append(Entry(deadline: deadline, id: id))
    siftUp(heap.count - 1)
    return ID(value: id)
  }

  /// Forgets a deadline; true if it was still pending.
  @discardableResult
  mutating func cancel(_ id: ID) -> Bool {
    guard payloads.removeValue(forKey: id.value) != nil else { return false }
    // Cancelled entries wait for the top; when they outnumber the live ones, rebuild so that a loop that
    // arms and cancels a deadline per chunk does not grow its heap without bound.
    if heap.count > 64, heap.count > 2 * payloads.count { compact() }
    return true
  }

  private mutating func compact() {
    heap.removeAll { payloads[$0.id] == nil }
    var index = heap.count / 2
    while index > 0 {
      index -= 1
      siftDown(index)
    }
  }

  /// Entries held, cancelled ones included (for tests of the bound).
  var storedEntries: Int { heap.count }

  /// The nearest pending deadline.
  mutating func nearest() -> MonotonicInstant? {
    dropCancelledTop()
    return heap.first?.deadline
  }

  /// Removes and returns the payloads whose deadline is at or before `now`, earliest first.
  mutating func popExpired(at now: MonotonicInstant) -> [Payload] {
    var expired: [Payload] = []
    while true {
      dropCancelledTop()
      guard let top = heap.first, top.deadline <= now else { return expired }
      removeTop()
      if let payload = payloads.removeValue(forKey: top.id) { expired.append(payload) }
    }
  }

  /// epoll_wait's timeout for the nearest deadline: -1 (none), 0 (due), else milliseconds rounded up so
  /// that the loop never wakes just before a deadline and spins.
  mutating func waitMilliseconds(from now: MonotonicInstant) -> Int32 {
    guard let deadline = nearest() else { return -1 }
    guard deadline > now else { return 0 }
    // In nanoseconds, without a `Duration`: this runs before every wait of the loop.
    let (left, overflow) = deadline.nanoseconds.subtractingReportingOverflow(now.nanoseconds)
    guard !overflow else { return Int32.max }
    let (milliseconds, remainder) = left.quotientAndRemainder(dividingBy: 1_000_000)
    return Int32(clamping: milliseconds + (remainder == 0 ? 0 : 1))
  }

  private mutating func dropCancelledTop() {
    while let top = heap.first, payloads[top.id] == nil { removeTop() }
  }

  private mutating func removeTop() {
    let last = heap.removeLast()
    guard !heap.isEmpty else { return }
    heap[0] = last
    siftDown(0)
  }

  private mutating func siftUp(_ start: Int) {
    var child = start
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].deadline < heap[parent].deadline else { return }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  private mutating func siftDown(_ start: Int) {
    var parent = start
    while true {
      let left = 2 * parent + 1
      guard left < heap.count else { return }
      let right = left + 1
      var smallest = left
      if right < heap.count, heap[right].deadline < heap[left].deadline { smallest = right }
      guard heap[smallest].deadline < heap[parent].deadline else { return }
      heap.swapAt(smallest, parent)
      parent = smallest
    }
  }
}

import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// One record of an inotify read: the entry's name (empty for the watched folder itself, or for a queue
/// overflow) and whether the watch has ended (the folder was deleted, moved or unmounted).
public struct FolderEvent: Sendable, Equatable {
  /// The entry in the folder that changed; empty when the event is about the folder itself.
  public let name: String
  /// True when the kernel removed the watch (`IN_IGNORED`): no further event will come.
  public let watchEnded: Bool

  /// Whether this change can change the route set: a `*.toml` entry (the loader reads only those), Kubernetes'
  /// `..data` link (a ConfigMap update swaps it atomically), or the folder itself (a lost queue too).
  public var touchesRoutes: Bool { name.isEmpty || name.hasSuffix(".toml") || name == "..data" }
}

/// Parses the records the kernel writes to an inotify descriptor (`struct inotify_event`: wd, mask, cookie,
/// len, then `len` bytes of NUL-padded name). A record that claims more bytes than were read ends the parse.
enum FolderEventRecords {
  /// Bytes before the name: four 32-bit fields.
  static let headerSize = 16

  static func events(in bytes: ArraySlice<UInt8>) -> [FolderEvent] {
    var events: [FolderEvent] = []
    var offset = bytes.startIndex
    while bytes.endIndex - offset >= headerSize {
      let mask = word(bytes, at: offset + 4)
      let nameLength = Int(word(bytes, at: offset + 12))
      let nameStart = offset + headerSize
      guard nameLength <= bytes.endIndex - nameStart else { break }
      let nameBytes = bytes[nameStart..<(nameStart + nameLength)].prefix { $0 != 0 }
      events.append(
        FolderEvent(
          name: String(decoding: nameBytes, as: UTF8.self), watchEnded: mask & UInt32(IN_IGNORED) != 0))
      offset = nameStart + nameLength
    }
    return events
  }

  /// A 32-bit field in the machine's byte order (the kernel writes native structs).
  private static func word(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    withUnsafeMutableBytes(of: &value) { raw in
      for index in 0..<4 { raw[index] = bytes[offset + index] }
    }
    return value
  }
}

/// When to reload after changes to the routes folder: once the folder has been quiet for `quiet` (an editor's
/// save, or a `cp` of several files, is a burst of events), and at the latest `longest` after the first change
/// of a burst (so a folder that never goes quiet is still reloaded). Pure: instants come from the caller.
public struct ReloadDebounce: Sendable, Equatable {
  /// How long the folder must stay unchanged before a reload.
  public let quiet: Duration
  /// The most a reload waits after the first unreloaded change.
  public let longest: Duration
  private var firstChange: MonotonicInstant?
  private var lastChange: MonotonicInstant?

  /// A debounce with nothing pending.
  public init(quiet: Duration = .milliseconds(250), longest: Duration = .seconds(2)) {
    self.quiet = quiet
    self.longest = max(longest, quiet)
  }

  /// Notes a change seen at `now`.
  public mutating func changed(at now: MonotonicInstant) {
    if firstChange == nil { firstChange = now }
    lastChange = now
  }

  /// When the pending changes are due for a reload; nil when nothing is pending.
  public var deadline: MonotonicInstant? {
    guard let firstChange, let lastChange else { return nil }
    return min(lastChange + quiet, firstChange + longest)
  }

  /// True (and nothing pending any more) when a reload is due at `now`.
  public mutating func fire(at now: MonotonicInstant) -> Bool {
    guard let deadline, deadline <= now else { return false }
    firstChange = nil
    lastChange = nil
    return true
  }

  /// How long a waiter may sleep at `now` before the next reload is due, in whole milliseconds rounded up
  /// (`poll`'s unit): -1 when nothing is pending, at most one hour.
  public func waitMilliseconds(at now: MonotonicInstant) -> Int32 {
    guard let deadline else { return -1 }
    let left = now.duration(to: deadline)
    if left <= .zero { return 0 }
    let (seconds, attoseconds) = left.components
    let milliseconds = min(seconds, 3600) * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(min(milliseconds, 3_600_000))
  }
}

/// Watches a routes folder with inotify on a thread of its own (it blocks in `poll`, never on an event loop)
/// and calls `reload` once per debounced burst of changes to route files. ``stop()`` ends the thread.
public final class RouteFolderWatcher: Sendable {
  private let watchFD: Int32
  private let wakeFD: Int32
  private let stopped = Mutex(false)
  private let finished = DispatchSemaphore(value: 0)

  /// Starts watching `folder`; throws when it cannot be watched (missing, not a folder, inotify limits).
  public init(
    folder: String, debounce: ReloadDebounce = ReloadDebounce(), reload: @escaping @Sendable () -> Void
  ) throws(IOError) {
    watchFD = try Posix.watchFolder(folder)
    do throws(IOError) {
      wakeFD = try Posix.eventFD()
    } catch {
      Posix.close(watchFD)
      throw error
    }
    let watchFD = watchFD
    let wakeFD = wakeFD
    let finished = finished
    Posix.startThread(name: "louter-watch") {
      Self.watch(watchFD: watchFD, wakeFD: wakeFD, debounce: debounce, reload: reload)
      finished.signal()
    }
  }

  /// Ends the watch and waits for its thread (a reload under way finishes first). Later calls do nothing.
  public func stop() {
    let first = stopped.withLock { wasStopped in
      defer { wasStopped = true }
      return !wasStopped
    }
    guard first else { return }
    Posix.signalEventFD(wakeFD)
    finished.wait()
    Posix.close(watchFD)
    Posix.close(wakeFD)
  }

  /// The watcher thread: wait for events or the next deadline, reload when due, until woken by `stop`.
  private static func watch(
    watchFD: Int32, wakeFD: Int32, debounce initial: ReloadDebounce, reload: @Sendable () -> Void
  ) {
    var debounce = initial
    var watching = true
    while true {
      if debounce.fire(at: .now) {
        reload()
        continue
      }
      let timeout = debounce.waitMilliseconds(at: .now)
      let ready: [Int32]
      do {
        ready = try Posix.waitReadable(watching ? [watchFD, wakeFD] : [wakeFD], timeoutMilliseconds: timeout)
      } catch {
        Posix.writeIfReady(fd: STDERR_FILENO, line: "louter: watching the routes stopped: \(error)\n")
        return
      }
      if ready.contains(wakeFD) { return }
      guard ready.contains(watchFD) else { continue }
      // Drain every complete event now: the descriptor is level-triggered.
      while true {
        let read: IOResult<[FolderEvent]>
        do {
          read = try Posix.readFolderEvents(watchFD)
        } catch {
          Posix.writeIfReady(fd: STDERR_FILENO, line: "louter: watching the routes stopped: \(error)\n")
          watching = false
          break
        }
        guard case .done(let events) = read else { break }
        if events.contains(where: \.touchesRoutes) { debounce.changed(at: .now) }
        if events.contains(where: \.watchEnded) {
          Posix.writeIfReady(
            fd: STDERR_FILENO,
            line: "louter: watching the routes stopped: the folder was removed or moved (SIGHUP still reloads)\n")
          watching = false
          break
        }
      }
    }
  }
}

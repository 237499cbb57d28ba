import Foundation
import Synchronization

/// The process's stderr, shared by the log handlers and the progress line so that their
/// writes never interleave: every log line is one `write(2)`, and a log line written while a
/// progress line is showing first clears it (the next update draws it again, below).
final class StandardError: Sendable {
    static let shared = StandardError(fd: STDERR_FILENO)

    private struct State {
        /// Whether a progress line is on screen (its cursor at the end of it, no newline yet).
        var progressShown = false
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let format = Mutex(LogFormat.text)

    /// How ``printError(_:)`` writes (the command's `--log-format`).
    var errorFormat: LogFormat {
        get { format.withLock { $0 } }
        set { format.withLock { $0 = newValue } }
    }
    /// `\r` + erase to the end of the line.
    static let clearLine = "\r\u{1B}[K"

    init(fd: Int32) {
        self.fd = fd
    }

    /// Writes one log line (`line` ends with a newline).
    func writeLine(_ line: String) {
        state.withLock { state in
            emit(state.progressShown ? Self.clearLine + line : line)
            state.progressShown = false
        }
    }

    /// Replaces the progress line (no newline: the next update overwrites it).
    func showProgress(_ text: String) {
        state.withLock { state in
            emit(Self.clearLine + text)
            state.progressShown = true
        }
    }

    /// Ends the progress line on screen, if any, with a newline: it stays as the last word.
    func endProgress() {
        state.withLock { state in
            guard state.progressShown else { return }
            state.progressShown = false
            emit("\n")
        }
    }

    /// One `write(2)` for the whole text when the kernel takes it (always for a pipe up to
    /// PIPE_BUF); the rest in follow-up writes otherwise. Called with the lock held.
    private func emit(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return  // stderr is gone: nowhere left to say so
            }
            offset += written
        }
    }
}

/// A `TextOutputStream` onto ``StandardError`` for swift-log's `StreamLogHandler`, which writes
/// each log line in one call.
struct StandardErrorStream: TextOutputStream, Sendable {
    func write(_ string: String) {
        StandardError.shared.writeLine(string)
    }
}

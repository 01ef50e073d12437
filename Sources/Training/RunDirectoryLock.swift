import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The run directory's owner: rank 0 of one job holds a POSIX record lock (`fcntl(F_SETLK)`,
/// a write lock over the whole file) on `<dir>/run.lock` for the life of the process.
///
/// - The kernel drops the lock when the process ends in any way (exit, crash, `kill -9`), so a
///   lock is never stale; the file itself stays and is reused by the next job.
/// - The file holds `host <name> pid <pid>` of the holder, for the refusal message of a second
///   job (which reads it without taking the lock).
/// - `fcntl` locks (not `flock`) because NFSv4 implements them in the protocol (the server
///   arbitrates between clients on different nodes); `flock` on NFS is local to one client on
///   older kernels. See docs/RUN-DIRECTORY.md for what holds on which file system.
/// - A process loses every `fcntl` lock on a file when it closes *any* descriptor of that file,
///   so nothing else in the trainer opens `run.lock`.
public final class RunDirectoryLock {
    public static let fileName = "run.lock"

    public let path: String
    private let descriptor: Int32

    /// Creates the directory if needed and takes the lock, or throws a `RunDirectoryBusy` naming
    /// the holder.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("cannot create the run directory \(directory): \(error.localizedDescription)")
        }
        path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TrainingError("cannot open the run directory's lock file \(path): \(String(cString: strerror(errno)))")
        }
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = 0
        request.l_len = 0   // the whole file, however long
        if fcntl(fd, F_SETLK, &request) != 0 {
            let reason = errno
            let holder = Self.describeHolder(fd: fd)
            close(fd)
            if reason == EACCES || reason == EAGAIN {
                throw TrainingError("run directory \(directory) is in use by another job (\(holder) holds \(path)); "
                                    + "wait for it to end or give this run another checkpoint.dir")
            }
            throw TrainingError("cannot lock \(path): \(String(cString: strerror(reason))) (the file system may not support fcntl locks)")
        }
        descriptor = fd
        let text = "host \(Self.hostName()) pid \(getpid())\n"
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        fsync(fd)
    }

    /// Releases the lock (the process's exit does the same).
    deinit { close(descriptor) }

    /// "host H pid P" from the lock file, or the process the kernel reports (same machine only)
    /// when the file holds nothing readable.
    private static func describeHolder(fd: Int32) -> String {
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = pread(fd, &bytes, bytes.count, 0)
        let text = count > 0 ? String(decoding: bytes.prefix(count), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines) : ""
        if text.hasPrefix("host ") { return text }
        var query = flock()
        query.l_type = Int16(F_WRLCK)
        query.l_whence = Int16(SEEK_SET)
        if fcntl(fd, F_GETLK, &query) == 0, query.l_type != Int16(F_UNLCK) {
            return "pid \(query.l_pid)"
        }
        return "an unknown process"
    }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "unknown-host" }
        return String(cString: name)
    }
}

import HDF5IO

extension CheckpointWriter {
    /// Writes `record` as `/data` (the split's attributes, `format_version`, `shards`, `crc32`)
    /// and `/data/shard-<i>` (each shard's attributes).
    static func write(_ record: TrainingDataRecord, into root: HDF5Group) throws {
        let group = try root.createGroup(TrainingDataRecord.groupName)
        try group.setAttribute("format_version", Int64(TrainingDataRecord.formatVersion))
        try group.setAttribute("shards", Int64(record.shards.count))
        for field in TrainingDataRecord.splitFields { try set(field.get(record), field.key, on: group) }
        for (index, shard) in record.shards.enumerated() {
            let shardGroup = try group.createGroup(TrainingDataRecord.shardGroupName(index))
            for field in TrainingDataRecord.shardFields { try set(field.get(shard), field.key, on: shardGroup) }
        }
        try group.setAttribute("crc32", Int64(record.checksum(formatVersion: TrainingDataRecord.formatVersion)))
    }

    private static func set(_ value: DataRecordValue, _ key: String, on holder: any HDF5AttributeHolder) throws {
        switch value {
        case .integer(let number): try holder.setAttribute(key, Int64(number))
        case .string(let text): try holder.setAttribute(key, string: text)
        }
    }
}

extension CheckpointReader {
    /// `/data`: what the run was trained on, or nil for a checkpoint written before the record
    /// existed. A record that is incomplete or fails its `crc32` is an error naming what is wrong.
    public func readDataRecord() throws -> TrainingDataRecord? {
        let name = TrainingDataRecord.groupName
        guard file.root.exists(name) else { return nil }
        do {
            let group = try file.root.group(name)
            let version = try integer("format_version", of: group, at: "/" + name)
            guard version == TrainingDataRecord.formatVersion else {
                throw CheckpointError(path: path, "/\(name) format_version \(version) is not supported (this trainer reads \(TrainingDataRecord.formatVersion))")
            }
            let count = try integer("shards", of: group, at: "/" + name)
            guard count >= 0 else { throw CheckpointError(path: path, "/\(name) records \(count) shards") }
            var record = TrainingDataRecord()
            for field in TrainingDataRecord.splitFields {
                field.set(&record, try value(of: field.key, integer: field.isInteger, in: group, at: "/" + name))
            }
            for index in 0 ..< count {
                let shardName = name + "/" + TrainingDataRecord.shardGroupName(index)
                guard file.root.exists(shardName) else {
                    throw CheckpointError(path: path, "/\(shardName) is missing (/\(name) records \(count) shards)")
                }
                let shardGroup = try file.root.group(shardName)
                var shard = TrainingDataRecord.Shard()
                for field in TrainingDataRecord.shardFields {
                    field.set(&shard, try value(of: field.key, integer: field.isInteger, in: shardGroup, at: "/" + shardName))
                }
                record.shards.append(shard)
            }
            let stored = try integer("crc32", of: group, at: "/" + name)
            let checksum = record.checksum(formatVersion: version)
            guard stored == Int(checksum) else {
                throw CheckpointError(path: path, "/\(name) attributes are corrupted: their crc32 is \(String(checksum, radix: 16)), the file records \(String(UInt32(truncatingIfNeeded: stored), radix: 16))")
            }
            return record
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(path: path, "/\(name) unreadable: \(error)")
        }
    }

    private func integer(_ key: String, of holder: any HDF5AttributeHolder, at location: String) throws -> Int {
        guard holder.hasAttribute(key) else { throw CheckpointError(path: path, "\(location) is missing attribute \(key)") }
        return Int(try holder.attribute(key, as: Int64.self))
    }

    private func value(of key: String, integer isInteger: Bool, in holder: any HDF5AttributeHolder,
                       at location: String) throws -> DataRecordValue {
        guard holder.hasAttribute(key) else { throw CheckpointError(path: path, "\(location) is missing attribute \(key)") }
        return isInteger ? .integer(Int(try holder.attribute(key, as: Int64.self))) : .string(try holder.stringAttribute(key))
    }
}

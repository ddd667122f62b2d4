flow "bankfile" {
  description = <<-EOT
    Converts a fixed-width bank statement file (a header, one 80-byte
    record per account movement, and a trailer that counts the movements
    and sums their amounts) into JSON lines, checking the trailer's count
    and total as it reads, and puts the movements of 1,000 or more either
    way into a second file.
  EOT

  param "file" {
    type        = string
    default     = "data/statement-20261120.dat"
    description = "The statement file to convert (relative to this file)."
  }
  param "out" {
    type        = string
    default     = "out"
    description = "Where the JSON lines go (relative to this file)."
  }

  log "start" {
    message = "converting ${param.file} into ${param.out}/"
  }

  batch "convert" {
    chunk_size = 10

    reader "fixed" {
      path             = param.file
      record_separator = "\n"

      # The file model: every record is 80 bytes. A field with a value is
      # a constant the reader checks (the record type tags); an object
      # without a name is a filler.
      header {
        length = 80
        fields = [
          { name = "tag", length = 1, value = "H" },
          { name = "bank", length = 5 },
          { name = "file_date", length = 8, type = "timestamp", format = "20060102" },
          { name = "file_seq", length = 4, type = "int", pad = "0" },
          { length = 62 },
        ]
      }
      body {
        length = 80
        fields = [
          { name = "tag", length = 1, value = "D" },
          { name = "account", length = 11 },
          { name = "value_date", length = 8, type = "timestamp", format = "20060102" },
          { name = "amount", length = 13, type = "decimal", scale = 2, pad = "0" },
          { name = "currency", length = 3 },
          { name = "reference", length = 12 },
          { name = "description", length = 32 },
        ]
      }
      trailer {
        length = 80
        fields = [
          { name = "tag", length = 1, value = "T" },
          { name = "count", length = 7, type = "int", pad = "0", check = "count" },
          { name = "total", length = 15, type = "decimal", scale = 2, pad = "0", sum_of = "amount" },
          { length = 57 },
        ]
      }
    }

    writer "jsonl" {
      path = "${param.out}/movements.jsonl"
    }
    writer "jsonl" "large" {
      path   = "${param.out}/large.jsonl"
      filter = "item.amount >= 1000 || item.amount <= -1000"
    }
  }

  output "movements" {
    value = step.convert.write_count
  }
}

# The flow the chaos test kills and resumes. Every exec step appends its own
# path ($FLOW_STEP_PATH) to the file param.out, then sleeps param.delay
# seconds so that kills land inside steps; set steps carry loop variables
# whose final values become the flow's outputs.
#
# Its shape is mirrored by chaos.ExpectedPaths: change both together.
flow "chaos" {
  param "out" {
    type        = string
    description = "The file every effect appends one line to."
  }
  param "delay" {
    type        = string
    default     = "0.005"
    description = "Seconds each effect sleeps after writing (sleep(1) syntax)."
  }
  param "rounds" {
    type    = number
    default = 4
  }
  param "items" {
    type    = list(string)
    default = ["a", "b", "c"]
  }
  param "branch_iterations" {
    type    = number
    default = 3
  }

  vars = {
    total = 0
    trail = ""
    sum   = 0
  }

  exec "first" {
    command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\"; echo \"$FLOW_STEP_PATH\""]
    env     = { OUT = param.out, DELAY = param.delay }
  }

  # A loop with a fork inside: each iteration forks over the items.
  loop "outer" {
    vars  = { i = 0 }
    while = var.i < param.rounds

    fork "each" {
      for_each        = param.items
      max_concurrency = 2

      exec "touch" {
        command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\"; echo \"$ITEM\""]
        env     = { OUT = param.out, DELAY = param.delay, ITEM = "${each.value}${each.index}" }
      }
    }

    set "count" {
      assign = {
        i     = var.i + 1
        total = var.total + length(step.each.results)
        trail = "${var.trail}${join("", [for r in step.each.results : trimspace(r.touch.stdout)])};"
      }
    }

    exec "after" {
      command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\"; echo \"$FLOW_STEP_PATH\""]
      env     = { OUT = param.out, DELAY = param.delay }
    }

    output "i" { value = var.i }
  }

  # Parallel branches, each a short loop with a loop-carried variable.
  parallel "branches" {
    loop "left" {
      vars  = { n = 0, acc = 0 }
      while = var.n < param.branch_iterations

      exec "work" {
        command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\"; echo 1"]
        env     = { OUT = param.out, DELAY = param.delay }
      }
      set "next" {
        assign = { n = var.n + 1, acc = var.acc + tonumber(trimspace(step.work.stdout)) + var.n }
      }

      output "acc" { value = var.acc }
    }

    loop "right" {
      vars  = { n = 0, acc = "" }
      until = var.n >= param.branch_iterations + 1

      exec "work" {
        command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\"; echo r"]
        env     = { OUT = param.out, DELAY = param.delay }
      }
      set "next" {
        assign = { n = var.n + 1, acc = "${var.acc}${trimspace(step.work.stdout)}${var.n}" }
      }

      output "acc" { value = var.acc }
    }

    sequential "middle" {
      exec "one" {
        command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\""]
        env     = { OUT = param.out, DELAY = param.delay }
      }
      loop "inner" {
        vars  = { k = 0 }
        while = var.k < 2
        exec "two" {
          command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\""]
          env     = { OUT = param.out, DELAY = param.delay }
        }
        # sum is the flow's, declared outside the parallel: this set
        # shadows it inside the branch, and so must its replay on resume
        # (the flow's sum stays out of reach, outputs show it).
        set "bump" {
          assign = { k = var.k + 1, sum = var.sum + 10 }
        }
      }
      output "k" { value = step.inner.iterations }
    }

    output "left"  { value = step.left.acc }
    output "right" { value = step.right.acc }
    output "k"     { value = step.middle.k }
  }

  set "final" {
    assign = { sum = var.sum + step.outer.i + step.branches.left }
  }

  exec "last" {
    command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\" >> \"$OUT\"; sleep \"$DELAY\""]
    env     = { OUT = param.out, DELAY = param.delay }
  }

  output "total"  { value = var.total }
  output "trail"  { value = var.trail }
  output "sum"    { value = var.sum }
  output "i"      { value = step.outer.i }
  output "left"   { value = step.branches.left }
  output "right"  { value = step.branches.right }
  output "inner"  { value = step.branches.k }
  output "first"  { value = trimspace(step.first.stdout) }
}

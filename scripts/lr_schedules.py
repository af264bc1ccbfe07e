#!/usr/bin/env python3
"""Writes tests/fixtures/lr_schedules.csv: the learning rates PyTorch's schedulers give, per
epoch and batch, for the cases src/train/schedule.rs tests against (the same specs there).

    python3 scripts/lr_schedules.py > tests/fixtures/lr_schedules.csv   (needs torch)

Warm-up: SequentialLR(LinearLR(start_factor=1/(w+1), total_iters=w), main, milestones=[w]), the
main schedule counting its epochs from the end of the warm-up; milestones in the runner's spec
are trial epochs, so they are given to MultiStepLR minus w. OneCycleLR: its defaults, stepped per
batch, without momentum cycling (the runner's momentum is fixed).
"""
import torch

LR = 0.1


def make(case, epochs, batches, opt):
    lin = lambda w: torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / (w + 1), end_factor=1.0, total_iters=w)
    seq = lambda w, main: torch.optim.lr_scheduler.SequentialLR(opt, [lin(w), main], milestones=[w])
    S = torch.optim.lr_scheduler
    if case == "constant":
        return S.ConstantLR(opt, factor=1.0, total_iters=0)
    if case == "step":
        return S.StepLR(opt, step_size=2, gamma=0.5)
    if case == "multistep":
        return S.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
    if case == "cosine":
        return S.CosineAnnealingLR(opt, T_max=epochs, eta_min=0.001)
    if case == "cosine_warmup":
        return seq(2, S.CosineAnnealingLR(opt, T_max=epochs - 2, eta_min=0.0))
    if case == "step_warmup":
        return seq(1, S.StepLR(opt, step_size=2, gamma=0.5))
    if case == "multistep_warmup":
        return seq(2, S.MultiStepLR(opt, milestones=[3 - 2, 5 - 2], gamma=0.5))
    if case == "onecycle":
        return S.OneCycleLR(opt, max_lr=LR, total_steps=epochs * batches, cycle_momentum=False)
    raise ValueError(case)


def main():
    print("case,epochs,batches,epoch,batch,lr")
    cases = [("constant", 4, 2), ("step", 7, 2), ("multistep", 7, 2), ("cosine", 5, 2), ("cosine_warmup", 7, 2),
             ("step_warmup", 6, 2), ("multistep_warmup", 7, 2), ("onecycle", 3, 7)]
    for case, epochs, batches in cases:
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=LR)
        sched = make(case, epochs, batches, opt)
        for epoch in range(1, epochs + 1):
            for batch in range(batches):
                print(f"{case},{epochs},{batches},{epoch},{batch},{opt.param_groups[0]['lr']!r}")
                opt.step()
                if case == "onecycle":
                    sched.step()
            if case != "onecycle":
                sched.step()


if __name__ == "__main__":
    main()

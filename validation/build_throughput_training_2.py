"""Builds validation/throughput-training-2.json: a second, held-out set of published training throughput / time
figures for the stacks the first file (throughput-training.json) does not cover: the Hugging Face Trainer / TRL +
peft + bitsandbytes stack ("hf"), LLaMA-Factory, DeepSpeed ZeRO (with offload), Unsloth with absolute numbers,
and Qwen's own HF-Trainer + DeepSpeed fine-tuning scripts.

Run from the repository root: python validation/build_throughput_training_2.py [OUT.json]
Each case() call is one published figure; the quote is copied from the source named in `source`. In quotes, table
cells keep their text but runs of spaces are collapsed, HTML table cells are written as '| cell |', and '...' marks
omitted text between a table heading and its row.
"""
import json, sys

FIELDS = ["id", "source", "quote", "category", "stack", "stack_version", "gpu", "hardware", "gpus", "nodes",
          "interconnect", "model", "method", "precision", "batch_size", "seq_len", "new_tokens", "grad_accum",
          "global_batch_tokens", "gradient_checkpointing", "lora_rank", "zero", "offload", "tensor_parallel",
          "pipeline_parallel", "compile", "packing", "metric", "value", "tokens", "rate_rps", "concurrency",
          "percentile", "assumed", "notes"]
CASES = []


def case(**kw):
    unknown = set(kw) - set(FIELDS)
    assert not unknown, unknown
    rec = {f: kw.get(f) for f in FIELDS}
    CASES.append(rec)


# ---------------------------------------------------------------- Unsloth benchmark (Dec 2023): HF vs Unsloth
# The README's 'Full benchmarking tables' give absolute seconds for a fixed 240-step QLoRA run; the setup is in the
# blog post that introduced them. Unpacked instruction data: the token count is not published (tokens null).
US = ("github:unslothai/unsloth README.md (Dec 2023 version, section 'Full benchmarking tables'; stored copy id "
      "31401897114) + https://unsloth.ai/blog/mistral-benchmark (13 December 2023) for the setup")
US_SETUP = ("All benchmarks use the following setup (unless if some tests OOM, in which we decrease the batch size for "
            "all tests): QLoRA nf4 layers = [ \"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", "
            "\"down_proj\",] QLoRA rank = 16, alpha = 16, dropout = 0 max_seq_length = 2048 learning_rate = 2e-4 "
            "weight_decay = 0.01 max_steps = 240 warmup_steps = 10 batch_size = 4 gradient_accumulation_steps = 4 "
            "lr_scheduler_type = \"linear\" optimizer = \"adamw_8bit\", bfloat16 use_gradient_checkpointing = True")
US_A100_HEAD = ("| 1 A100 40GB | Hugging Face | Flash Attention 2 | Unsloth Open | Unsloth Equal | Unsloth Pro | "
                "Unsloth Max | ")
US_NOTE = ("Wall time of max_steps = 240 optimizer steps of batch 4 x grad-accum 4 (3,840 samples) truncated to 2,048 "
           "tokens, not packed: the number of tokens processed is not published, so tokens is null and the case is a "
           "ratio check (HF vs Unsloth on the same run) rather than an absolute one. Model: the tables do not name it; "
           "the blog's summary says 'Llama 7B is also 21x faster on 1x A100'. ")


def unsloth_a100(id, dataset_row, seconds_row, col, value, model, stack, model_note, bs=4, seq=2048, extra=""):
    hf = stack == "hf"
    case(id=id, source=US, quote=US_SETUP + " ... " + US_A100_HEAD + "... " + dataset_row + " ... " + seconds_row,
         category="train-qlora", stack=stack,
         stack_version=("transformers + peft + bitsandbytes QLoRA (Dec 2023)" + (" + Flash Attention 2" if
                        col == "Flash Attention 2" else "")) if hf else "unsloth open-source (Dec 2023)",
         gpu="a100-40gb-sxm", hardware="1x A100 40GB (Google Colab)", gpus=1, nodes=1, interconnect=None,
         model=model, method="qlora", precision="nf4", batch_size=bs, seq_len=seq, grad_accum=4,
         global_batch_tokens=None, gradient_checkpointing=True, lora_rank=16, zero=None, offload=False,
         tensor_parallel=1, pipeline_parallel=1, compile=False, packing=False, metric="time_to_train_s",
         value=value, tokens=None,
         assumed=("gpu a100-40gb-sxm: Colab's A100 40GB is the SXM4 part (the catalogue's two A100 40GB entries share "
                  "the 312 TFLOPS peak); " + model_note),
         notes=f"Column '{col}'. " + US_NOTE + extra)


for ds, row, secs in [
        ("alpaca", "| Alpaca | 1x | 1.04x | 1.98x | 2.48x | 5.32x | **15.64x** |",
         "| seconds| 1040 | 1001 | 525 | 419 | 196 | 67 |"),
        ("laion-chip2", "| LAION Chip2 | 1x | 0.92x | 1.61x | 1.84x | 7.05x | **20.73x** |",
         "| seconds| 581 | 631 | 361 | 315 | 82 | 28 |"),
        ("oasst", "| OASST | 1x | 1.19x | 2.17x | 2.66x | 5.04x | **14.83x** |",
         "| seconds| 1852 | 1558 | 852 | 696 | 367 | 125 |"),
        ("slimorca", "| Slim Orca | 1x | 1.18x | 2.22x | 2.64x | 5.04x | **14.82x** |",
         "| seconds| 1824 | 1545 | 821 | 691 | 362 | 123 |")]:
    cells = [int(x) for x in secs.split("|")[2:-1]]
    mnote = "model llama-2-7b (Llama 7B shapes): from the blog's 'Llama 7B is also 21x faster on 1x A100'"
    unsloth_a100(f"unsloth-bench-{ds}-llama7b-a100-hf", row, secs, "Hugging Face", cells[0], "llama-2-7b", "hf", mnote)
    unsloth_a100(f"unsloth-bench-{ds}-llama7b-a100-unsloth", row, secs, "Unsloth Open", cells[2], "llama-2-7b",
                 "unsloth", mnote)

MI_ROW = "### Mistral 7b ... | Mistral 7B Slim Orca | 1x | 1.15x | 2.15x | 2.53x | 4.61x | **13.69x** |"
MI_SECS = "| seconds | 1813 | 1571 | 842 | 718 | 393 | 132 |"
unsloth_a100("unsloth-bench-slimorca-mistral7b-a100-hf", MI_ROW, MI_SECS, "Hugging Face", 1813, "mistral-7b", "hf",
             "model mistral-7b (v0.1, the only Mistral 7B in Dec 2023) from the table's title 'Mistral 7b'")
unsloth_a100("unsloth-bench-slimorca-mistral7b-a100-unsloth", MI_ROW, MI_SECS, "Unsloth Open", 842, "mistral-7b",
             "unsloth", "model mistral-7b (v0.1, the only Mistral 7B in Dec 2023) from the table's title 'Mistral 7b'")
CL_ROW = "### CodeLlama 34b ... | Code Llama 34B | OOM ❌ | 0.99x | 1.87x | 2.61x | 4.27x | 12.82x |"
CL_SECS = "| seconds | 1953 | 1982 | 1043 | 748 | 458 | 152 |"
CL_EXTRA = ("Blog: 'On CodeLlama 34B, we used a batch size of 1 on a sequence length of 4096. Unfortunately, Hugging "
            "Face's original implementation OOMs on batch size = 2, so we had to do a benchmark on bsz = 1.'")
unsloth_a100("unsloth-bench-codellama34b-a100-hf-fa2", CL_ROW, CL_SECS, "Flash Attention 2", 1982,
             "codellama/CodeLlama-34b-hf", "hf", "model: the blog's CodeLlama 34B (Hub id codellama/CodeLlama-34b-hf)",
             bs=1, seq=4096, extra=CL_EXTRA)
unsloth_a100("unsloth-bench-codellama34b-a100-unsloth", CL_ROW, CL_SECS, "Unsloth Open", 1043,
             "codellama/CodeLlama-34b-hf", "unsloth", "model: the blog's CodeLlama 34B (Hub id codellama/CodeLlama-34b-hf)",
             bs=1, seq=4096, extra=CL_EXTRA)

T4_HEAD = ("### 1 Tesla T4 | 1 T4 16GB | Hugging Face | Flash Attention | Unsloth Open | Unsloth Pro Equal | "
           "Unsloth Pro | Unsloth Max | ... | Alpaca | 1x | 1.09x | 1.69x | 1.79x | 2.93x | **8.3x** | ... "
           "| seconds | 1599 | 1468 | 942 | 894 | 545 | 193 |")
for stack, val, col in [("hf", 1599, "Hugging Face"), ("unsloth", 942, "Unsloth Open")]:
    case(id=f"unsloth-bench-alpaca-llama7b-t4-{stack}", source=US, quote=US_SETUP + " ... " + T4_HEAD,
         category="train-qlora", stack=stack,
         stack_version="transformers + peft + bitsandbytes QLoRA (Dec 2023)" if stack == "hf" else
         "unsloth open-source (Dec 2023)",
         gpu=None, hardware="1x Tesla T4 16GB (Google Colab); not in the catalogue", gpus=1, nodes=1,
         interconnect=None, model="llama-2-7b", method="qlora", precision="nf4", batch_size=4, seq_len=2048,
         grad_accum=4, gradient_checkpointing=True, lora_rank=16, offload=False, tensor_parallel=1,
         pipeline_parallel=1, compile=False, packing=False, metric="time_to_train_s", value=val, tokens=None,
         assumed=("model llama-2-7b (Llama 7B shapes): the T4 tables do not name the model (blog: 'Llama 7B'); "
                  "T4 has no bf16, so the run is fp16 compute despite the setup's 'bfloat16' (the notebooks use "
                  "fp16 = not torch.cuda.is_bf16_supported())"),
         notes=f"Column '{col}'. " + US_NOTE + "T4 is not a catalogue card, so gpu is null (not modelled today).")

# ---------------------------------------------------------------- LLaMA-Factory performance comparison (Jan 2024)
LF = ("https://github.com/hiyouga/LLaMA-Factory/wiki/Performance-Comparison, as reproduced in github:unslothai/"
      "unsloth README.md (Jan 2024 version, section 'Llama-Factory 3rd party benchmarking'; stored copy id 31401897114)")
LF_HEAD = "| Method | Bits | TGS | GRAM | Speed | ... "
LF_TAIL = (" ... TGS: tokens per GPU per second. Model: LLaMA2-7B. GPU: NVIDIA A100 * 1. Batch size: 4. Gradient "
           "accumulation: 2. LoRA rank: 8. Max length: 1024.")
LF_ASSUMED = ("gpu a100-80gb-sxm: the wiki says only 'NVIDIA A100' (every A100 in the catalogue has the same 312 "
              "TFLOPS dense bf16 peak; 40 vs 80 GB and PCIe vs SXM differ in memory bandwidth only); gradient "
              "checkpointing on: LLaMA-Factory ModelArguments.disable_gradient_checkpointing default False "
              "(src/llmtuner/hparams/model_args.py, 2024); packing off: LLaMA-Factory's SFT default "
              "(DataArguments.packing None -> off for sft); precision bf16 compute (LLaMA-Factory picks bf16 on "
              "Ampere)")
LF_NOTE = ("Max length 1024 is the cutoff; samples are not packed, so sequences are at most 1,024 tokens and TGS "
           "may count real (unpadded) tokens: treat seq_len as an upper bound. ")
for id, row, stack, method, val, note in [
        ("llamafactory-llama2-7b-a100-lora-hf", "| HF | 16 | 2392 | 18GB | 100% |", "llama-factory", "lora", 2392,
         "Plain Hugging Face transformers + peft LoRA under LLaMA-Factory (eager attention)."),
        ("llamafactory-llama2-7b-a100-lora-hf-fa2", "| HF+FA2 | 16 | 2954 | 17GB | 123% |", "llama-factory", "lora",
         2954, "Hugging Face transformers + peft LoRA with Flash Attention 2."),
        ("llamafactory-llama2-7b-a100-lora-unsloth", "| Unsloth+FA2 | 16 | 4007 | 16GB | **168%** |", "unsloth",
         "lora", 4007, "Unsloth kernels + Flash Attention 2, run through LLaMA-Factory."),
        ("llamafactory-llama2-7b-a100-qlora-hf", "| HF | 4 | 2415 | 9GB | 101% |", "llama-factory", "qlora", 2415,
         "Hugging Face transformers + peft + bitsandbytes 4-bit QLoRA."),
        ("llamafactory-llama2-7b-a100-qlora-unsloth", "| Unsloth+FA2 | 4 | 3726 | 7GB | **160%** |", "unsloth",
         "qlora", 3726, "Unsloth 4-bit QLoRA + Flash Attention 2, run through LLaMA-Factory.")]:
    case(id=id, source=LF, quote=LF_HEAD + row + LF_TAIL, category="train-" + method, stack=stack,
         stack_version="LLaMA-Factory (Jan 2024)" + (" + unsloth" if stack == "unsloth" else ""),
         gpu="a100-80gb-sxm", hardware="NVIDIA A100 * 1 (memory size not stated)", gpus=1, nodes=1,
         interconnect=None, model="llama-2-7b", method=method, precision="nf4" if method == "qlora" else "bf16",
         batch_size=4, seq_len=1024, grad_accum=2, global_batch_tokens=8 * 1024, gradient_checkpointing=True,
         lora_rank=8, zero=None, offload=False, tensor_parallel=1, pipeline_parallel=1, compile=False,
         packing=False, metric="tokens_per_s_per_gpu", value=val, assumed=LF_ASSUMED, notes=LF_NOTE + note)

# ---------------------------------------------------------------- xTuring (DeepSpeed via Lightning), LLaMA 7B
XT = "github:stochasticai/xTuring README.md (section 'Performance'; stored copy id 55988048640)"
XT_Q = ("Here is a comparison for the performance of different fine-tuning techniques on the LLaMA 7B model. We use "
        "the Alpaca dataset for fine-tuning. The dataset contains 52K instructions. Hardware: 4xA100 40GB GPU, 335GB "
        "CPU RAM Fine-tuning parameters: { 'maximum sequence length': 512, 'batch size': 1, } | LLaMA-7B | DeepSpeed "
        "+ CPU Offloading | LoRA + DeepSpeed | LoRA + DeepSpeed + CPU Offloading | ... | Time/epoch | 21 hours | "
        "20 mins | 20 mins |")
XT_ASSUMED = ("zero 2: xTuring passes DeepSpeed to Lightning as strategy 'deepspeed_stage_2', or "
              "'deepspeed_stage_2_offload' (optimizer to CPU) when optimizer_name='cpu_adam' (xturing trainers, "
              "2023); gpu a100-40gb-sxm: form factor not stated; model llama-2-7b: LLaMA-1 7B has the same layer "
              "shapes (6.74B parameters); precision, LoRA rank and gradient checkpointing not stated (left null)")
for id, col, cat, method, val, off in [
        ("xturing-llama7b-4xa100-40gb-full-deepspeed-offload", "DeepSpeed + CPU Offloading", "train-full", "full",
         21 * 3600, True),
        ("xturing-llama7b-4xa100-40gb-lora-deepspeed", "LoRA + DeepSpeed", "train-lora", "lora", 20 * 60, False),
        ("xturing-llama7b-4xa100-40gb-lora-deepspeed-offload", "LoRA + DeepSpeed + CPU Offloading", "train-lora",
         "lora", 20 * 60, True)]:
    case(id=id, source=XT, quote=XT_Q, category=cat, stack="deepspeed", stack_version="xTuring 0.0.x + DeepSpeed (2023)",
         gpu="a100-40gb-sxm", hardware="4x A100 40GB, 335GB CPU RAM", gpus=4, nodes=1, interconnect=None,
         model="llama-2-7b", method=method, precision=None, batch_size=1, seq_len=512, grad_accum=None,
         gradient_checkpointing=None, lora_rank=None, zero=2, offload="optimizer" if off else False,
         tensor_parallel=1, pipeline_parallel=1, compile=False, packing=False, metric="time_to_train_s", value=val,
         tokens=None, assumed=XT_ASSUMED,
         notes=(f"Column '{col}'. One epoch of Alpaca (52K instructions) at maximum length 512, batch 1 per GPU: the "
                "number of tokens is not published (samples are shorter than 512), so tokens is null. The 63x gap "
                "between full fine-tuning with ZeRO-Offload and LoRA is the published point: the full run is bound "
                "by the CPU Adam step and PCIe traffic of 6.7B fp32 optimizer states."))

# ---------------------------------------------------------------- Qwen (HF Trainer + peft + DeepSpeed), A100-SXM4-80G
QW = "github:QwenLM/Qwen README.md @03cd81f5e4da6ab60fc8f97f3b8aa1206fdb08a9 (section 'Profiling of Memory and Speed')"
QW_INTRO = ("We profile the GPU memory and training speed of both LoRA (LoRA (emb) refers to training the embedding and "
            "output layer, while LoRA has no trainable embedding and output layer) and Q-LoRA in the setup of "
            "single-GPU training. In this test, we experiment on a single A100-SXM4-80G GPU, and we use CUDA 11.8 and "
            "Pytorch 2.0. Flash attention 2 is applied. We uniformly use a batch size of 1 and gradient accumulation "
            "of 8. We profile the memory (GB) and speed (s/iter) of inputs of different lengths, namely 256, 512, "
            "1024, 2048, 4096, and 8192. ")
QW_HEAD = "| Model Size | Method | #Nodes | #GPUs per node | 256 | 512 | 1024 | 2048 | 4096 | 8192 | ... "
QW_ASSUMED = ("padding to the full sequence length: finetune.py preprocess() right-pads every sample to "
              "model_max_length ('input_id += [tokenizer.pad_token_id] * (max_len - len(input_id))', QwenLM/Qwen "
              "finetune.py @00dceeb), so every micro-batch is exactly seq_len tokens; bf16 and gradient "
              "checkpointing on: finetune/finetune_lora_single_gpu.sh and finetune/finetune_ds.sh ('--bf16 True', "
              "'--gradient_checkpointing'); lora_rank 64 on c_attn, c_proj, w1, w2: finetune.py LoraArguments "
              "defaults; Q-LoRA loads the GPTQ Int4 chat model (finetune.py GPTQConfig(bits=4), README 'Qwen-7B-Chat-"
              "Int4'); full-parameter runs use DeepSpeed ZeRO-2 (finetune/finetune_ds.sh '--deepspeed "
              "finetune/ds_config_zero2.json')")
QW_NOTE = ("s/it is the HF Trainer progress bar: one optimizer step = 8 micro-batches of 1 x seq_len tokens per GPU "
           "(grad-accum 8), so step_time_s covers 8 x seq_len tokens per GPU. Qwen (v1) models are not built in; the "
           "Hub id needs a cached config to be modelled. ")


def qwen(id, row, size, method_label, col_len, value, gpus, nodes=1, precision="bf16", stack="hf", zero=None, extra=""):
    method = {"LoRA": "lora", "Q-LoRA": "qlora", "Full-parameter": "full", "LoRA (multinode)": "lora",
              "LoRA + Deepspeed Zero3": "lora"}[method_label]
    model = f"Qwen/Qwen-{size}-Chat-Int4" if method == "qlora" else f"Qwen/Qwen-{size}"
    case(id=id, source=QW, quote=QW_INTRO + QW_HEAD + row, category="train-" + method, stack=stack,
         stack_version="Qwen finetune.py: transformers Trainer + peft + DeepSpeed (CUDA 11.8, PyTorch 2.0, 2023-12)",
         gpu="a100-80gb-sxm", hardware="A100-SXM4-80G" + (f", {nodes} servers x {gpus // nodes} GPUs" if nodes > 1
                                                            else f" x {gpus}"),
         gpus=gpus, nodes=nodes, interconnect=None if gpus == 1 else ("network (not stated)" if nodes > 1 else "nvlink"),
         model=model, method=method, precision=precision, batch_size=1, seq_len=col_len, grad_accum=8,
         global_batch_tokens=8 * col_len * gpus, gradient_checkpointing=True,
         lora_rank=None if method == "full" else 64, zero=zero, offload=False, tensor_parallel=1,
         pipeline_parallel=1, compile=False, packing=False, metric="step_time_s", value=value, assumed=QW_ASSUMED,
         notes=QW_NOTE + extra)


R7L = ("| 7B | LoRA | 1 | 1 | 20.1G / 1.2s/it | 20.4G / 1.5s/it | 21.5G / 2.8s/it | 23.8G / 5.2s/it | 29.7G / 10.1s/it "
       "| 36.6G / 21.3s/it |")
for L, v in [(256, 1.2), (1024, 2.8), (4096, 10.1), (8192, 21.3)]:
    qwen(f"qwen-7b-a100-80gb-lora-{L}", R7L, "7B", "LoRA", L, v, 1)
R7Q = ("| 7B | Q-LoRA | 1 | 1 | 11.5G / 3.0s/it | 11.5G / 3.0s/it | 12.3G / 3.5s/it | 13.9G / 7.0s/it | 16.9G / 11.6s/it "
       "| 23.5G / 22.3s/it |")
for L, v in [(1024, 3.5), (4096, 11.6)]:
    qwen(f"qwen-7b-a100-80gb-qlora-gptq-{L}", R7Q, "7B", "Q-LoRA", L, v, 1, precision="gptq",
         extra="Q-LoRA here is LoRA on a GPTQ int4 model (auto-gptq kernels, fp16 compute), not bitsandbytes nf4.")
R7F = ("| 7B | Full-parameter | 1 | 2 | 139.2G / 4.0s/it | 148.0G / 4.0s/it | 162.0G / 4.5s/it | - | - | - | "
       "We also report the statistics of full-parameter finetuning with Qwen-7B on 2 A100 GPUs.")
for L, v in [(256, 4.0), (1024, 4.5)]:
    qwen(f"qwen-7b-2xa100-80gb-full-zero2-{L}", R7F, "7B", "Full-parameter", L, v, 2, stack="deepspeed", zero=2,
         extra="Memory column is the sum over the 2 GPUs. Short sequences: the step is dominated by the ZeRO-2 "
               "optimizer step and gradient reduce of 7.7B parameters, not by compute.")
R7M = ("| 7B | LoRA (multinode) | 2 | 2 | 74.7G / 2.09s/it | 77.6G / 3.16s/it | 84.9G / 5.17s/it | 95.1G / 9.25s/it | "
       "121.1G / 18.1s/it | 155.5G / 37.4s/it | For Qwen-7B, we also test the performance of multinode finetuning. We "
       "experiment using two servers, each containing two A100-SXM4-80G GPUs")
for L, v in [(1024, 5.17), (4096, 18.1)]:
    qwen(f"qwen-7b-2x2xa100-80gb-lora-multinode-{L}", R7M, "7B", "LoRA (multinode)", L, v, 4, nodes=2,
         stack="deepspeed", zero=2,
         extra="zero 2 assumed from finetune/finetune_lora_ds.sh ('--deepspeed finetune/ds_config_zero2.json'). Slower "
               "per step than 1 GPU at the same per-GPU batch: cross-node gradient traffic.")
R14L = ("| 14B | LoRA | 1 | 1 | 34.6G / 1.6s/it | 35.1G / 2.4s/it | 35.3G / 4.4s/it | 37.4G / 8.4s/it | 42.5G / "
        "17.0s/it | 55.2G / 36.0s/it |")
for L, v in [(1024, 4.4), (4096, 17.0)]:
    qwen(f"qwen-14b-a100-80gb-lora-{L}", R14L, "14B", "LoRA", L, v, 1)
R72L = ("| 72B | LoRA + Deepspeed Zero3 | 1 | 4 | 215.4G / 17.6s/it | 217.7G / 20.5s/it | 222.6G / 29.4s/it | 228.8G / "
        "45.7s/it | 249.0G / 83.4s/it | 289.2G / 161.5s/it | For Qwen-72B, we experiment in two ways: 1) Lora "
        "fintuning + DeepSpeed ZeRO 3 on 4 A100-SXM4-80G GPUs")
for L, v in [(1024, 29.4), (4096, 83.4)]:
    qwen(f"qwen-72b-4xa100-80gb-lora-zero3-{L}", R72L, "72B", "LoRA + Deepspeed Zero3", L, v, 4, stack="deepspeed",
         zero=3, extra="ZeRO-3 all-gathers the 72B bf16 weights twice per micro-batch over NVLink.")
R72Q = ("| 72B | Q-LoRA | 1 | 1 | 61.4G / 27.4s/it | 61.4G / 31.5s/it | 62.9G / 41.4s/it | 64.1G / 59.5s/it | 68.0G / "
        "97.7s/it | 75.6G / 179.8s/it | 2) QLora (int4) fine-tuning on a single A100-SXM4-80G GPU")
qwen("qwen-72b-a100-80gb-qlora-gptq-2048", R72Q, "72B", "Q-LoRA", 2048, 59.5, 1, precision="gptq",
     extra="Q-LoRA here is LoRA on a GPTQ int4 model (auto-gptq kernels, fp16 compute), not bitsandbytes nf4.")
R18F = ("| 1.8B | Full-parameter | 1 | 1 | 43.5G / 2.1s/it | 43.5G / 2.2s/it | 43.5G / 2.2s/it | 43.5G / 2.3s/it | "
        "47.1G / 2.8s/it | 48.3G / 5.6s/it |")
qwen("qwen-1.8b-a100-80gb-full-8192", R18F, "1.8B", "Full-parameter", 8192, 5.6, 1, stack="deepspeed", zero=2,
     extra="Single-GPU full fine-tune through finetune_ds.sh (ZeRO-2 on one GPU = plain AdamW step).")
qwen("qwen-1.8b-a100-80gb-full-1024", R18F, "1.8B", "Full-parameter", 1024, 2.2, 1, stack="deepspeed", zero=2,
     extra="Nearly flat 2.1-2.3 s/it from 256 to 2048 tokens: a fixed per-step cost (optimizer step over 1.8B "
           "parameters in fp32 plus per-micro-batch overheads) dominates short sequences.")

# ---------------------------------------------------------------- HF accelerate: FSDP vs DeepSpeed ZeRO-3 (2024-06)
AB = "github:huggingface/blog deepspeed-to-fsdp-and-back.md @09e9aa2d9b04feabe06bf98d25691caf8d967eea"
AB_Q = ("We use the IBM Granite 7B model (which follows the Meta Llama2 architecture) for throughput comparisons. We "
        "compare Model Flops Utilization (MFU) and tokens/sec/GPU metrics and show them for FSDP (full sharding) and "
        "DeepSpeed (Zero3). We used four A100 GPUs as before with the following hyperparameters: - Batch size of 8 - "
        "Model loaded in `torch.bfloat16` - Mixed precision is the same dtype. ... | **Framework** | **Tokens / sec / "
        "device** | **Step time (s)** | **Model Flops Utilization (MFU)** | ... ")
AB_ASSUMED = ("model llama-2-7b: Granite 7B base 'follows the Meta Llama2 architecture' (same layer shapes); seq_len "
              "4096 derived from the table (tokens/s/device x step time / batch = 3158.7 x 10.4 / 8 = 4,106 tokens "
              "per sample; DeepSpeed row 3094.5 x 10.6 / 8 = 4,100); gradient checkpointing on: a 7B full fine-tune at "
              "8 x 4096 tokens per GPU does not fit 80 GB without it (the issue #2624 runs use it); gpu "
              "a100-80gb-sxm: 'four A100 GPUs', variant not stated")
for id, row, stack, zero, val in [
        ("accelerate-granite7b-4xa100-full-fsdp", "| FSDP (aligned mode) | 3158.7 | 10.4 | 0.41 |", "hf-fsdp", 3,
         3158.7),
        ("accelerate-granite7b-4xa100-full-deepspeed-zero3", "| DeepSpeed | 3094.5 | 10.6 | 0.40 |", "deepspeed", 3,
         3094.5)]:
    case(id=id, source=AB, quote=AB_Q + row, category="train-full", stack=stack,
         stack_version="accelerate 0.30 + " + ("PyTorch FSDP FULL_SHARD (aligned mode: fp32 optimizer)" if
                                               stack == "hf-fsdp" else "DeepSpeed 0.14 ZeRO-3") + " (2024-06)",
         gpu="a100-80gb-sxm", hardware="4x A100 (single node)", gpus=4, nodes=1, interconnect="nvlink",
         model="llama-2-7b", method="full", precision="bf16-mixed", batch_size=8, seq_len=4096, grad_accum=1,
         global_batch_tokens=4 * 8 * 4096, gradient_checkpointing=True, lora_rank=None, zero=zero, offload=False,
         tensor_parallel=1, pipeline_parallel=1, compile=False, packing=True, metric="tokens_per_s_per_gpu",
         value=val, assumed=AB_ASSUMED,
         notes="Blog calls these 'ballpark' numbers. Both keep fp32 master weights and optimizer states (FSDP "
               "'aligned mode' upcasts like DeepSpeed). MFU 0.41 / 0.40 as published.")

# ---------------------------------------------------------------- Axolotl (4x A100-80G, DeepSpeed ZeRO-2, Liger)
AX = ("'Benchmarking Axolotl vs LLMForge MFUs' README (Anyscale LLMForge 0.5.7 vs Axolotl df359c8; stored copy id "
      "34746245559)")
AX_Q = ("Results above are for fine-tuning on the Alpaca-12K dataset with a sequence length of 2048, and a per device "
        "batch size of 2 on a 4xA100-80G node with DeepSpeed ZeRO-2. All model optimizations in both libraries are "
        "applied (custom optimizers for Axolotl, Liger Kernel for both LLMForge and Axolotl). ... We also turn off "
        "model checkpointing features in both LLMForge and Axolotl (gradient checkpointing we keep on for both). "
        "Below we show the average step time (at the end of training) ... | Framework | LLMForge | Axolotl| ")
AX_ASSUMED = ("grad_accum 1 and full 2,048-token sequences (sample packing): derived from the published MFUs, which "
              "match one micro-batch of 2 x 2048 tokens per GPU per step (full: 8.03B x 8 x 2048 x 8 / (1.52 s x 4 "
              "GPUs) = 172 TFLOPS = 55.1% of 312; LoRA: the README's 200.6 TFLOP per step / 1.22 s = 164 TFLOPS = "
              "52.7%); precision bf16 (Axolotl example configs); LoRA rank not stated (null)")
for id, row, method, val in [("axolotl-llama31-8b-4xa100-lora-zero2", "| LoRA (s/it) | 1.15 | 1.22 |", "lora", 1.22),
                             ("axolotl-llama31-8b-4xa100-full-zero2", "| Full (s/it) | 1.48 | 1.52 |", "full", 1.52)]:
    case(id=id, source=AX, quote=AX_Q + row, category="train-" + method, stack="axolotl",
         stack_version="axolotl df359c8 + DeepSpeed ZeRO-2 + Liger kernel (2024)", gpu="a100-80gb-sxm",
         hardware="4xA100-80G node", gpus=4, nodes=1, interconnect="nvlink", model="llama-3.1-8b", method=method,
         precision="bf16", batch_size=2, seq_len=2048, grad_accum=1, global_batch_tokens=4 * 2 * 2048,
         gradient_checkpointing=True, lora_rank=None, zero=2, offload=False, tensor_parallel=1, pipeline_parallel=1,
         compile=False, packing=True, metric="step_time_s", value=val, assumed=AX_ASSUMED,
         notes="tqdm step time at the end of training (0.3 EMA smoothing). Published Axolotl MFU: LoRA 52.7%, full "
               "55.1% (counting the recompute of gradient checkpointing, i.e. closer to HFU).")

# ---------------------------------------------------------------- VectorLM (HF models + PyTorch FSDP1), Vaughan cluster
VL3 = ("github:VectorInstitute/vectorlm docs/reference_throughput.md (version with the Meta-Llama-3-8B table; stored "
       "copy id 2839817800)")
VL3_Q = ("For consistency, we use a batch size of 8 and the maximum context length that the pre-trained LLM supports, "
         "capped at 65536. ... All values in the table below represent the median training throughput in "
         "tokens/second across all training steps, aggregated across all GPU devices. | | Meta-Llama-3-8B (2048) | "
         "Meta-Llama-3-8B (4096) | Meta-Llama-3-8B (8192) | ... ")
VL_ASSUMED = ("FSDP FULL_SHARD, use_mp True (bf16), activation checkpointing on, flash attention on Ampere, partial "
              "packing to the context length, gradient_accumulation_steps 4, LoRA r 8 alpha 32: "
              "profiling/configs/benchmark.yaml and lora-benchmark.yaml (VectorInstitute/vectorlm @9045f08); "
              "model llama-3.1-8b for Meta-Llama-3-8B (same shapes)")
VL_STACK = "VectorLM (transformers models + PyTorch FSDP1 FULL_SHARD, own trainer, torch 2.2)"
for row, kind, n, cols in [
        ("| (full_rank) NVIDIA A100-SXM4-80GB x1 | 3550.48 (batch: 8) | 3461.64 (batch: 4) | 3204.21 (batch: 2) |",
         "full", 1, [(2048, 8, 3550.48), (8192, 2, 3204.21)]),
        ("| (full_rank) NVIDIA A100-SXM4-80GB x2 | 6346.00 (batch: 8) | 6182.59 (batch: 4) | 5772.91 (batch: 2) |",
         "full", 2, [(2048, 8, 6346.00)]),
        ("| (full_rank) NVIDIA A100-SXM4-80GB x4 | 12688.44 (batch: 8) | 12249.74 (batch: 4) | 11463.46 (batch: 2) |",
         "full", 4, [(2048, 8, 12688.44), (8192, 2, 11463.46)]),
        ("| (lora) NVIDIA A100-SXM4-80GB x1 | 4079.28 (batch: 8) | 3682.15 (batch: 4) | 3528.93 (batch: 2) |",
         "lora", 1, [(2048, 8, 4079.28), (8192, 2, 3528.93)]),
        ("| (lora) NVIDIA A100-SXM4-80GB x4 | 14299.47 (batch: 8) | 13834.43 (batch: 4) | 12769.23 (batch: 2) |",
         "lora", 4, [(2048, 8, 14299.47)])]:
    for seq, bs, val in cols:
        case(id=f"vectorlm-llama3-8b-{n}xa100-80gb-{kind}-{seq}", source=VL3, quote=VL3_Q + row,
             category="train-" + kind, stack="hf-fsdp", stack_version=VL_STACK, gpu="a100-80gb-sxm",
             hardware=f"NVIDIA A100-SXM4-80GB x{n} (Vector Institute Vaughan cluster)", gpus=n, nodes=1,
             interconnect="nvlink" if n > 1 else None, model="llama-3.1-8b", method=kind, precision="bf16",
             batch_size=bs, seq_len=seq, grad_accum=4, global_batch_tokens=n * bs * seq * 4,
             gradient_checkpointing=True, lora_rank=8 if kind == "lora" else None, zero=3, offload=False,
             tensor_parallel=1, pipeline_parallel=1, compile=False, packing=True, metric="tokens_per_s", value=val,
             assumed=VL_ASSUMED,
             notes="Throughput summed over all GPUs (median over steps). The batch shown per column is the per-device "
                   "batch that maximised throughput. Full-rank on one 80 GB GPU fits only because use_mp keeps the "
                   "weights (and so the AdamW states) in bf16.")
# The earlier round of the same page (Llama-2 / Mistral / A40 / T4 table, stored copy id 2470671645) is not
# recorded: its A100 LoRA Llama-2-7B figure (646.8 tok/s) is 6x below the later round's Llama-3-8B figure on the same
# card and code path (4,079 tok/s), so the two rounds cannot both be measurements of the settings the page states.
# ---------------------------------------------------------------- ROCm Megatron-LM on gfx942 (MI300X), third-party log
RM = "github:hisohara/ai-scripts training/02_megatron/README.md @3ae89cf16109afc57e30f7afbd4a10d423a90088"
RM_Q = ("TEE_OUTPUT=1 \\ MBS=4 \\ BS=256 \\ TP=1 \\ TE_FP8=1 \\ SEQ_LENGTH=4096 \\ MODEL_SIZE=7 \\ TOTAL_ITERS=50 \\ "
        "USE_FLASH_ATTN=0 \\ GEMM_TUNING=0 \\ bash examples/llama/train_llama2.sh ... iteration 50/ 50 | consumed "
        "samples: 12800 | elapsed time per iteration (ms): 10235.8 | mem usages: 0.7494 | throughput per GPU "
        "(TFLOP/s/GPU): 590.2 | ... tokens/GPU/s: 12786.891099")
case(id="rocm-megatron-llama2-7b-8xmi300x-fp8-pretrain", source=RM, quote=RM_Q, category="pretrain", stack="megatron",
     stack_version="ROCm/Megatron-LM rocm_dev 38fc830 + ROCm TransformerEngine 8c4a512, torch 2.8 rocm6.4 (2025-08)",
     gpu="mi300x", hardware="AMD Instinct gfx942 node (AMD Accelerator Cloud 'AAC8'), PYTORCH_ROCM_ARCH=gfx942",
     gpus=8, nodes=1, interconnect="infinity fabric", model="llama-2-7b", method="pretrain", precision="fp8",
     batch_size=4, seq_len=4096, grad_accum=8, global_batch_tokens=256 * 4096, gradient_checkpointing=False,
     lora_rank=None, zero=None, offload=False, tensor_parallel=1, pipeline_parallel=1, compile=False, packing=True,
     metric="tokens_per_s_per_gpu", value=12786.891099,
     assumed=("gpus 8 and grad_accum 8: derived from the log (256 x 4096 tokens per iteration / 10.2505 s / 12786.9 "
              "tokens/GPU/s = 8.0 GPUs; 256 / (MBS 4 x 8 data-parallel ranks) = 8 micro-batches); gpu mi300x: the "
              "log names only gfx942 (MI300X or MI325X, the same 1307 TFLOPS dense bf16 peak in the catalogue) and "
              "links AMD's MI300X Megatron-LM benchmark page; no activation recompute and Megatron's distributed "
              "optimizer off: examples/llama/train_llama2.sh defaults (ROCm/Megatron-LM rocm_dev, not read)"),
     notes="Personal benchmark log of a ROCm user (not an AMD publication); 50 iterations of synthetic-length wiki "
           "data, FP8 through TransformerEngine, flash attention deliberately off ('As the baseline, flash attention "
           "and grouped GEMM are not installed yet'). 590 TFLOP/s/GPU as logged by Megatron.")


ABOUT = ("Second set of published TRAINING throughput and time-to-train figures, held out from the fit of "
         "planner/throughput/ (collected 2026-12-04 to fill the first file's gaps: the Hugging Face Trainer/peft/"
         "bitsandbytes stack, LLaMA-Factory, DeepSpeed ZeRO incl. CPU offload, Unsloth with absolute numbers, Qwen's "
         "HF-Trainer+DeepSpeed scripts). Schema: validation/README.md 'Published throughput and time figures'. Each "
         "case quotes its source verbatim (table rows with their heading; runs of spaces collapsed; '...' marks "
         "omitted text); 'assumed' lists fields taken from stack defaults and the file that sets them. Cases whose "
         "token count is not published keep tokens null and are skipped by benchmarks/throughput.py with the reason. "
         "Built by validation/build_throughput_training_2.py.")

if __name__ == "__main__":
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    out = sys.argv[1] if len(sys.argv) > 1 else "validation/throughput-training-2.json"
    with open(out, "w") as f:
        json.dump({"about": ABOUT, "cases": CASES}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(CASES)} cases -> {out}")

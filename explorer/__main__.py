"""``python -m explorer``: the command line (``explorer.cli``); the process ends as ``explorer.process_end`` says,
and so every graph it compiles is kept until then (``keep_every_graph``): none is destroyed when a command's
models go out of use at its return, as none is at its end."""

from explorer.cli import main
from explorer.inference.openvino_backend import keep_every_graph
from explorer.process_end import end_process

keep_every_graph()
end_process(main())

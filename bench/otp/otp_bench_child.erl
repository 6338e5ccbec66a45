%% A simple gen_server child for otp_bench. When Bench is a pid, init/1 tells it when it ran
%% (erlang:monotonic_time in ns), and a `crash` message makes the child record the time and fail.
-module(otp_bench_child).
-behaviour(gen_server).
-export([start_link/2, init/1, handle_call/3, handle_cast/2, handle_info/2]).

start_link(Bench, Index) ->
    gen_server:start_link(?MODULE, {Bench, Index}, []).

init({Bench, Index} = State) ->
    case Bench of
        none -> ok;
        _ -> Bench ! {inited, Index, self(), erlang:monotonic_time(nanosecond)}
    end,
    {ok, State}.

handle_call(_Request, _From, State) -> {reply, ok, State}.
handle_cast(_Message, State) -> {noreply, State}.

handle_info(crash, {Bench, _} = State) ->
    Bench ! {crashed, erlang:monotonic_time(nanosecond)},
    {stop, crash, State};
handle_info(_Message, State) ->
    {noreply, State}.

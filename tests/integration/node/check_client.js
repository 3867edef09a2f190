// The official Node.js client (@google-cloud/tasks over @grpc/grpc-js) against the engine:
// concurrent creates, a 900 KB body both ways, a >1 MB list page, ALREADY_EXISTS and an error
// message with non-ASCII and '%'. Prints one JSON line; test_node_client.py checks it.
const {CloudTasksClient} = require('@google-cloud/tasks');
const grpc = require('@grpc/grpc-js');

const [host, port, queueId] = process.argv.slice(2);
const client = new CloudTasksClient({
  apiEndpoint: host, port: Number(port), sslCreds: grpc.credentials.createInsecure(),
});
const parent = 'projects/node-project/locations/us-central1';
const queue = `${parent}/queues/${queueId}`;

async function failure(promise) {
  try { await promise; return null; } catch (err) { return {code: err.code, details: err.details}; }
}

(async () => {
  await client.createQueue({parent, queue: {name: queue}});
  await client.pauseQueue({name: queue});
  const created = await Promise.all([...Array(100).keys()].map(i => client.createTask({
    parent: queue,
    task: {
      name: `${queue}/tasks/t${i}`,
      httpRequest: {url: 'http://127.0.0.1:9/x', body: Buffer.alloc(i === 7 ? 900000 : 10, 'a')},
    },
  })));
  const [big] = await client.getTask({name: `${queue}/tasks/t7`, responseView: 'FULL'});
  const [listed] = await client.listTasks(
    {parent: queue, pageSize: 1000, responseView: 'FULL'}, {autoPaginate: false});
  const duplicate = await failure(client.createTask(
    {parent: queue, task: {name: `${queue}/tasks/t1`, httpRequest: {url: 'http://127.0.0.1:9/x'}}}));
  const invalid = await failure(client.getQueue({name: `${parent}/queues/bad-é%`}));
  await client.deleteTask({name: `${queue}/tasks/t0`});
  const [after] = await client.listTasks({parent: queue, pageSize: 1000}, {autoPaginate: false});
  await client.close();
  console.log(JSON.stringify({
    created: created.length, bigBody: big.httpRequest.body.length, listed: listed.length,
    duplicate, invalid, afterDelete: after.length,
  }));
})().catch(err => { console.error(err); process.exit(1); });

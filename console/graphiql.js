// Starts GraphiQL (vendored, served by this server) against this server's API.
// The console's token, when signed in in this tab, is put in the headers tab;
// otherwise paste one there: {"Authorization": "Bearer ..."}.
(function () {
  var url = location.origin + '/graphql';
  var token = sessionStorage.getItem('swarmdesk.token');
  // Subscriptions authenticate in connection_init (a WebSocket carries no headers).
  var fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: url.replace(/^http/, 'ws'),
    wsConnectionParams: token ? { authorization: 'Bearer ' + token } : undefined,
  });
  var headers = JSON.stringify({ Authorization: 'Bearer ' + (token || '<token>') }, null, 2);
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultHeaders: headers, shouldPersistHeaders: false }));
})();
